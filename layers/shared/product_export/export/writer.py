"""Rendering products as CSV bytes, streamed into a sink in bounded chunks.

The bytes are exactly those of ``csv.writer`` with the excel dialect and ``\\r\\n`` line ends
(QUOTE_MINIMAL: a field is quoted when it holds a comma, a double quote, a CR or a LF, and its
double quotes are doubled; a row of one empty field is ``""``). ``csv.writer`` inspects every
character of every field one at a time, which made it the writer's largest cost; here rows are
formatted in batches, a column at a time: one scan of all of a batch's cells of a column (C string
searches) decides whether any of them needs quoting, so only the columns that hold such text
(names, descriptions, lists) are looked at cell by cell. tests/unit/test_export_rows.py checks the
output against ``csv.writer`` over generated text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import chain, islice
from operator import attrgetter
from typing import Any, Protocol

from product_export.export.columns import Column, row_renderer
from product_export.export.rows import ProductRow

# RFC 4180 line ends. Rows are formatted BATCH_ROWS at a time; their text is encoded and handed
# on once at least FLUSH_CHARS characters are waiting (a chunk is at most that plus one batch).
LINE_TERMINATOR = "\r\n"
FLUSH_CHARS = 1 << 20
BATCH_ROWS = 64


class ByteSink(Protocol):
    def write(self, data: bytes) -> None: ...


def _column_fields(cells: Sequence[str]) -> Sequence[str]:
    """One column's cells of a batch as CSV fields: quoted where ``csv.writer`` quotes them."""
    text = "".join(cells)
    if '"' in text:
        return [
            '"' + cell.replace('"', '""') + '"'
            if '"' in cell or "," in cell or "\n" in cell or "\r" in cell
            else cell
            for cell in cells
        ]
    if "," in text or "\n" in text or "\r" in text:
        return ['"' + cell + '"' if "," in cell or "\n" in cell or "\r" in cell else cell for cell in cells]
    return cells


def csv_text(rows: Sequence[Sequence[str]]) -> str:
    """The CSV lines of ``rows`` (each a sequence of the same number of str cells), as ``csv.writer``
    writes them."""
    if not rows:
        return ""
    if len(rows[0]) == 1:  # csv.writer quotes a row's only field when it is empty
        return "".join(['""\r\n' if row[0] == "" else _column_fields(row)[0] + "\r\n" for row in rows])
    fields = [_column_fields(column) for column in zip(*rows, strict=True)]
    return LINE_TERMINATOR.join(map(",".join, zip(*fields, strict=True))) + LINE_TERMINATOR


def write_csv(columns: list[Column], items: Iterable[dict[str, Any]], sink: ByteSink) -> int:
    """Write the header and one row per item; returns the number of rows (products) written.

    Items are decoded products, or ProductRows read for these columns (export/rows.py), which
    carry their cells already (a source gives one kind or the other).
    """
    iterator = iter(items)
    first = next(iterator, None)
    cells: Callable[[Any], Sequence[str]] = (
        attrgetter("cells") if isinstance(first, ProductRow) else row_renderer(columns)
    )
    rows = map(cells, iterator if first is None else chain((first,), iterator))
    pending = [csv_text([[column.header for column in columns]])]
    filled = len(pending[0])
    written = 0
    while batch := list(islice(rows, BATCH_ROWS)):
        written += len(batch)
        text = csv_text(batch)
        pending.append(text)
        filled += len(text)
        if filled >= FLUSH_CHARS:
            sink.write("".join(pending).encode())
            pending, filled = [], 0
    sink.write("".join(pending).encode())
    return written
