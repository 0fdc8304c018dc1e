"""Print a syntax tree as canonical filter text: ``parse_filter(format_filter(e)) == e``."""

from __future__ import annotations

from product_export.filters.fields import TIMESTAMP_FIELDS
from product_export.filters.model import And, Comparison, Expr
from product_export.values import parse_timestamp

# ':' needs no quotes: inside a call a bare value runs to ',' or ')', so timestamps print bare.
_SPECIAL = frozenset(",()|\"'\\")


def format_filter(expr: Expr) -> str:
    """Calls joined by ':', alternatives as ``(a|b)``, values quoted only when needed."""
    if isinstance(expr, Comparison):
        timestamps = expr.field.name in TIMESTAMP_FIELDS
        args = [expr.field.name, *(_quote(_timestamp(v) if timestamps else v) for v in expr.values)]
        return f"{expr.op}({','.join(args)})"
    if isinstance(expr, And):
        # A conjunction nested directly in another prints in parentheses so it parses back as itself.
        return ":".join(
            f"({format_filter(t)})" if isinstance(t, And) else format_filter(t) for t in expr.terms
        )
    return "(" + "|".join(format_filter(t) for t in expr.terms) + ")"


def _quote(value: str) -> str:
    if value and not any(c in _SPECIAL or c.isspace() for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _timestamp(value: str) -> str:
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError):
        return value
