"""Parse filter text (``eq(sku,a):(like(name,x*)|in(id,1,2))``) into a syntax tree.

Grammar::

    filter := conj EOF
    conj   := term (':' term)*
    term   := call | '(' conj ('|' conj)* ')'
    call   := OP '(' FIELD (',' value)* ')'
    value  := bare | "double quoted" | 'single quoted'

A bare value runs to the next ',' or ')' and is kept exactly (spaces and ':' included: timestamps
are written bare). Inside quotes a backslash escapes the quote character or a backslash; any other
backslash is literal. Whitespace is ignored around operators, fields, quoted values, ':' and '|'.
"""

from __future__ import annotations

import re

from product_export.filters.fields import (
    OPERATORS,
    TIMESTAMP_FIELDS,
    allowed_operators,
    like_pattern,
    resolve_field,
)
from product_export.filters.model import (
    MAX_FILTER_BYTES,
    MAX_FILTERS,
    And,
    Comparison,
    Expr,
    FilterError,
    Or,
)
from product_export.values import parse_timestamp

MAX_DEPTH = 32
_OPERATOR = re.compile(r"[A-Za-z0-9_]+")
_FIELD_END = frozenset(",()\"'")
_CANONICAL_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_MAX_QUOTED_CALL = 120


def parse_filter(text: str | None) -> Expr | None:
    """Parse a filter; None for no filter (None, "" or only spaces). Raises FilterError only."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise FilterError("The filter must be a string")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILTER_BYTES:
        raise FilterError(f"Filter is too long: {size} bytes (at most {MAX_FILTER_BYTES})")
    if not text.strip():
        return None
    parser = _Parser(text)
    expr = parser.parse()
    if parser.calls > MAX_FILTERS:
        raise FilterError(f"Too many filters: {parser.calls} (at most {MAX_FILTERS})")
    return expr


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0
        self.calls = 0

    # -- helpers ---------------------------------------------------------------------------------

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _expected(self, what: str) -> FilterError:
        found = (
            f"found {self.text[self.pos]!r}" if self.pos < len(self.text) else "found the end of the filter"
        )
        return FilterError(f"Expected {what} at position {self.pos}, {found}")

    def _expect(self, char: str) -> None:
        self._skip_spaces()
        if self._peek() != char:
            raise self._expected(f"'{char}'")
        self.pos += 1

    # -- grammar ---------------------------------------------------------------------------------

    def parse(self) -> Expr:
        expr = self._conj()
        self._skip_spaces()
        if self.pos < len(self.text):
            raise self._expected("':' or the end of the filter")
        return expr

    def _conj(self) -> Expr:
        terms = [self._term()]
        while True:
            self._skip_spaces()
            if self._peek() != ":":
                break
            self.pos += 1
            terms.append(self._term())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def _term(self) -> Expr:
        self._skip_spaces()
        if self._peek() != "(":
            return self._call()
        if self.depth >= MAX_DEPTH:
            raise FilterError(
                f"Filter is nested too deeply at position {self.pos} (at most {MAX_DEPTH} levels)"
            )
        self.depth += 1
        self.pos += 1
        branches = [self._conj()]
        while True:
            self._skip_spaces()
            if self._peek() != "|":
                break
            self.pos += 1
            branches.append(self._conj())
        if self._peek() != ")":
            raise self._expected("':', '|' or ')'")
        self.pos += 1
        self.depth -= 1
        return branches[0] if len(branches) == 1 else Or(tuple(branches))

    def _call(self) -> Comparison:
        start = self.pos
        match = _OPERATOR.match(self.text, self.pos)
        if not match:
            raise self._expected("a filter such as eq(field,value)")
        op = match.group()
        if op not in OPERATORS:
            raise FilterError(
                f"Unknown operator '{op}' at position {start} (expected one of {', '.join(OPERATORS)})"
            )
        self.pos = match.end()
        self._expect("(")
        self._skip_spaces()
        field_start = self.pos
        while self.pos < len(self.text) and not (
            self.text[self.pos] in _FIELD_END or self.text[self.pos].isspace()
        ):
            self.pos += 1
        field = self.text[field_start : self.pos]
        if not field:
            raise self._expected("a field name")
        self._skip_spaces()
        values: list[str] = []
        while self._peek() == ",":
            self.pos += 1
            values.append(self._value())
        if self._peek() != ")":
            raise self._expected("',' or ')'")
        self.pos += 1
        self.calls += 1
        call = self.text[start : self.pos]
        if len(call) > _MAX_QUOTED_CALL:
            call = call[: _MAX_QUOTED_CALL - 1] + "…"
        return _comparison(op, field, values, call)

    def _value(self) -> str:
        quote_at = self.pos
        while quote_at < len(self.text) and self.text[quote_at].isspace():
            quote_at += 1
        if quote_at < len(self.text) and self.text[quote_at] in "\"'":
            self.pos = quote_at
            value = self._quoted()
            self._skip_spaces()
            return value
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",)":
            if self.text[self.pos] == "(":
                raise FilterError(
                    f"Unexpected '(' in a value at position {self.pos} (quote values containing parentheses)"
                )
            self.pos += 1
        if self.pos >= len(self.text):
            raise self._expected("',' or ')'")
        if self.pos == start:
            raise FilterError(f'Empty value at position {start} (write "" for an empty string)')
        return self.text[start : self.pos]

    def _quoted(self) -> str:
        start = self.pos
        quote = self.text[start]
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == quote:
                self.pos += 1
                return "".join(chars)
            if char == "\\" and self.pos + 1 < len(self.text) and self.text[self.pos + 1] in (quote, "\\"):
                char = self.text[self.pos + 1]
                self.pos += 1
            chars.append(char)
            self.pos += 1
        raise FilterError(f"Unterminated quoted value starting at position {start}")


def _comparison(op: str, name: str, values: list[str], call: str) -> Comparison:
    try:
        field = resolve_field(name)
    except FilterError as error:
        raise FilterError(f"{error.detail} in {call}") from None
    if op not in allowed_operators(field):
        raise FilterError(f"Operator '{op}' is not allowed on field '{name}' in {call}")
    if op == "is_null" and values:
        raise FilterError(f"Operator 'is_null' takes no values, got {len(values)} in {call}")
    if op == "in" and not values:
        raise FilterError(f"Operator 'in' takes at least 1 value, got 0 in {call}")
    if op not in ("in", "is_null") and len(values) != 1:
        raise FilterError(f"Operator '{op}' takes exactly 1 value, got {len(values)} in {call}")
    if field.name in TIMESTAMP_FIELDS:
        values = [_timestamp(field.name, value, call) for value in values]
    if op == "like" and "*" in like_pattern(values[0])[1]:
        raise FilterError(
            f"Wildcard '*' is only allowed at the start or end of a like value: '{values[0]}' in {call}"
        )
    return Comparison(op, field, tuple(values))


def _timestamp(field: str, value: str, call: str) -> str:
    try:
        normalised = parse_timestamp(value)
    except ValueError:
        normalised = ""
    if not _CANONICAL_TIMESTAMP.fullmatch(normalised):
        raise FilterError(f"Invalid timestamp '{value}' for field '{field}' in {call}")
    return normalised
