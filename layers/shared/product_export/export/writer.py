"""Rendering products as CSV bytes, streamed into a sink in bounded chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, Protocol

from product_export.export.columns import Column, row_renderer

# RFC 4180 line ends. Rows are encoded and handed on every FLUSH_CHARS characters.
LINE_TERMINATOR = "\r\n"
FLUSH_CHARS = 1 << 20


class ByteSink(Protocol):
    def write(self, data: bytes) -> None: ...


def write_csv(columns: list[Column], items: Iterable[dict[str, Any]], sink: ByteSink) -> int:
    """Write the header and one row per item; returns the number of rows (products) written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=LINE_TERMINATOR)
    writer.writerow([column.header for column in columns])
    render = row_renderer(columns)
    rows = 0
    for item in items:
        writer.writerow(render(item))
        rows += 1
        if buffer.tell() >= FLUSH_CHARS:
            sink.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    sink.write(buffer.getvalue().encode())
    return rows
