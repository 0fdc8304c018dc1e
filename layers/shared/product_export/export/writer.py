"""Rendering products as CSV bytes, streamed into a sink in bounded chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, Protocol

from product_export.export.columns import Column, row_renderer
from product_export.export.rows import ProductRow

# RFC 4180 line ends. Rows are encoded and handed on every FLUSH_CHARS characters.
LINE_TERMINATOR = "\r\n"
FLUSH_CHARS = 1 << 20


class ByteSink(Protocol):
    def write(self, data: bytes) -> None: ...


def write_csv(columns: list[Column], items: Iterable[dict[str, Any]], sink: ByteSink) -> int:
    """Write the header and one row per item; returns the number of rows (products) written.

    Items are decoded products, or ProductRows read for these columns (export/rows.py), which
    carry their cells already.
    """
    render = row_renderer(columns)
    buffer = io.StringIO()
    # csv.writer returns what the file's write returns: StringIO's is the characters written, all
    # the chunking needs. A full chunk is handed on and a fresh buffer started.
    writerow = csv.writer(buffer, lineterminator=LINE_TERMINATOR).writerow
    filled = writerow([column.header for column in columns])
    rows = 0
    for item in items:
        filled += writerow(item.cells if isinstance(item, ProductRow) else render(item))
        rows += 1
        if filled >= FLUSH_CHARS:
            sink.write(buffer.getvalue().encode())
            buffer = io.StringIO()
            writerow = csv.writer(buffer, lineterminator=LINE_TERMINATOR).writerow
            filled = 0
    sink.write(buffer.getvalue().encode())
    return rows
