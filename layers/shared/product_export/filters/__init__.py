"""The filter language of the export and product list APIs (``eq(sku,a):(like(name,x*)|in(id,1,2))``).

``parse_filter`` turns text into a syntax tree (raising only :class:`FilterError`), ``matches`` is
the authoritative evaluator over decoded DynamoDB items, ``compile_dynamodb`` derives a sound
superset FilterExpression and ``format_filter`` prints the canonical text.
"""

from product_export.filters.dynamodb import Bounds, Condition, compile_dynamodb, field_bounds
from product_export.filters.evaluator import compile_matcher, matches, referenced_attributes
from product_export.filters.fields import FIELD_OPERATORS, OPERATORS, resolve_field
from product_export.filters.model import (
    MAX_FILTER_BYTES,
    MAX_FILTERS,
    And,
    Comparison,
    Expr,
    Field,
    FilterError,
    Or,
)
from product_export.filters.parser import parse_filter
from product_export.filters.printer import format_filter

__all__ = [
    "FIELD_OPERATORS",
    "MAX_FILTERS",
    "MAX_FILTER_BYTES",
    "OPERATORS",
    "And",
    "Bounds",
    "Comparison",
    "Condition",
    "Expr",
    "Field",
    "FilterError",
    "Or",
    "compile_dynamodb",
    "compile_matcher",
    "field_bounds",
    "format_filter",
    "matches",
    "parse_filter",
    "referenced_attributes",
    "resolve_field",
]
