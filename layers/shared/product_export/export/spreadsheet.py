"""Spreadsheet-safe CSV (``POST /pcm/products/export?spreadsheetSafe=true``): no cell runs as a formula.

Excel and LibreOffice run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, after a tab or
carriage return, the same) as a formula, which can exfiltrate data or start programs (CSV
injection). As OWASP recommends, such a text cell gets a leading single quote: the spreadsheet shows
it as text. Excel in locales whose list separator is ``;`` splits an unquoted cell at each ``;``, so
a text segment after ``;`` is treated the same way. The file starts with a UTF-8 byte order mark so
Excel reads it as UTF-8.

This changes the data (a neutralised cell no longer round-trips), so it is an option: by default
parts are byte-exact for re-import. The rule has no exception: a negative number cannot hold a
formula, but its cell starts with ``-`` too and becomes the text ``'-5``.

The rows are neutralised before the CSV writer sees them (values of each stored product, and the
header), so the writer's own rendering and quoting are the same in both modes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from product_export.export.columns import Column
from product_export.values import cell_text

PARAMETER = "spreadsheetSafe"
BOM = "\ufeff".encode()
FORMULA_STARTS = "=+-@\t\r"
# A formula character at the start of the text or right after a ';' (a cell boundary in ';' locales).
_FORMULA = re.compile(r"(^|;)(?=[=+\-@\t\r])")


def neutralise(text: str) -> str:
    """``text`` with a ``'`` before every formula character that would start a spreadsheet cell."""
    if not text or (text[0] not in FORMULA_STARTS and ";" not in text):
        return text  # the common case, without a regular expression
    return _FORMULA.sub(r"\1'", text)


def neutralise_value(value: Any) -> Any:
    """Every text inside a stored value neutralised (dictionaries and lists walked); a number whose
    cell would start with ``-`` becomes that cell's text, neutralised."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool) and value < 0:
        return neutralise(cell_text(value))
    if isinstance(value, dict):
        return {key: neutralise_value(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [neutralise_value(inner) for inner in value]
    return value


def neutralise_items(items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The products as the CSV writer will render them, one at a time (the stream stays lazy)."""
    for item in items:
        yield {key: neutralise_value(value) for key, value in item.items()}


def neutralise_columns(columns: list[Column]) -> list[Column]:
    """The header cells neutralised (attribute keys are user text, e.g. ``admin_attributes.a;=b``)."""
    return [dataclasses.replace(column, header=neutralise(column.header)) for column in columns]
