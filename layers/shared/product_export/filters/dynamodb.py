"""Compile a filter to a DynamoDB FilterExpression that is a sound superset of :func:`matches`.

Only what DynamoDB evaluates exactly like the Python evaluator is pushed down; everything else
becomes "no condition" and is left to the evaluator, which runs on every returned item. User
values only ever appear in ``values`` and attribute names in ``names``, never in ``expression``.

Soundness assumes the stored item shape: top-level scalars, the elements of ``tags`` and
``product_types`` and the shopper/admin attribute values are strings (DynamoDB type S).

``field_bounds`` gives the inclusive range a filter's top-level AND terms put on one field, so a
caller can turn ``gt(updated_at,<time>)`` into a key condition on an index sorted by that field;
such a query leaves the field out of its FilterExpression (``exclude``), as DynamoDB requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from product_export.filters.fields import LIST_FIELDS, TEMPLATES, like_pattern
from product_export.filters.model import And, Comparison, Expr

MAX_EXPRESSION_LENGTH = 4096  # DynamoDB rejects longer expressions; fall back to no condition.
_IN_OPERANDS = 100  # DynamoDB's limit on the operands of one IN.
_ORDERING = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


@dataclass(frozen=True)
class Condition:
    """A FilterExpression with its placeholders (values are plain strings, to be sent as ``{"S": v}``)."""

    expression: str
    names: dict[str, str]
    values: dict[str, str]


@dataclass(frozen=True)
class _Test:
    kind: str  # '=', '<', '<=', '>', '>=', 'IN', 'begins_with' or 'contains'
    path: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class _Group:
    joiner: str  # 'AND' or 'OR'
    parts: tuple[_Node, ...]


_Node = _Test | _Group


@dataclass(frozen=True)
class Bounds:
    """An inclusive range of a field's text (None = open at that end)."""

    low: str | None = None
    high: str | None = None


def field_bounds(expr: Expr | None, name: str) -> Bounds:
    """The inclusive bounds the filter's top-level AND terms put on field ``name``.

    Only ``gt``, ``ge``, ``lt``, ``le`` and ``eq`` terms count (``gt`` and ``lt`` widen to inclusive
    bounds, the evaluator decides the rest), so every item :func:`matches` accepts lies inside them.
    """
    low: str | None = None
    high: str | None = None
    for term in _conjuncts(expr):
        if not isinstance(term, Comparison) or term.field.name != name or len(term.values) != 1:
            continue
        value = term.values[0]
        if term.op in ("gt", "ge", "eq"):
            low = value if low is None else max(low, value)
        if term.op in ("lt", "le", "eq"):
            high = value if high is None else min(high, value)
    return Bounds(low, high)


def _conjuncts(expr: Expr | None) -> list[Expr]:
    if expr is None:
        return []
    if isinstance(expr, And):
        return [inner for term in expr.terms for inner in _conjuncts(term)]
    return [expr]


def compile_dynamodb(expr: Expr | None, *, exclude: frozenset[str] = frozenset()) -> Condition | None:
    """The pushed-down condition, or None when nothing can be pushed down (match everything).

    Comparisons on the fields named in ``exclude`` (the key attributes of the index queried) are
    left to the evaluator.
    """
    node = _compile(expr, exclude) if expr is not None else None
    if node is None:
        return None
    placeholders = _Placeholders()
    expression = placeholders.render(node)
    if len(expression) > MAX_EXPRESSION_LENGTH:
        return None
    return Condition(
        expression,
        {ph: name for name, ph in placeholders.names.items()},
        {ph: value for value, ph in placeholders.values.items()},
    )


def _compile(expr: Expr, exclude: frozenset[str]) -> _Node | None:
    if isinstance(expr, Comparison):
        return None if expr.field.name in exclude else _comparison(expr)
    parts = [_compile(term, exclude) for term in expr.terms]
    if isinstance(expr, And):
        kept = tuple(part for part in parts if part is not None)
        if not kept:
            return None
        return _group("AND", kept)
    if any(part is None for part in parts):
        return None
    return _group("OR", tuple(part for part in parts if part is not None))


def _group(joiner: str, parts: tuple[_Node, ...]) -> _Node:
    """Join parts, splicing in nested groups with the same joiner."""
    if len(parts) == 1:
        return parts[0]
    flat: list[_Node] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, _Group) and part.joiner == joiner else (part,))
    return _Group(joiner, tuple(flat))


def _any(nodes: list[_Node]) -> _Node:
    return _group("OR", tuple(nodes))


def _comparison(expr: Comparison) -> _Node | None:
    name, path, values = expr.field.name, expr.field.path, expr.values
    if not values or "" in values or name == TEMPLATES or path[0] == "extensions":
        # is_null, empty strings, templates (id or slug) and extension values (numbers and
        # booleans compare as text) are left to the evaluator.
        return None
    listed = name in LIST_FIELDS
    if expr.op == "eq":
        return _Test("contains" if listed else "=", path, values)
    if expr.op == "in":
        unique = tuple(dict.fromkeys(values))
        if listed:
            return _any([_Test("contains", path, (value,)) for value in unique])
        if len(unique) == 1:
            return _Test("=", path, unique)
        chunks = [unique[i : i + _IN_OPERANDS] for i in range(0, len(unique), _IN_OPERANDS)]
        return _any([_Test("IN", path, chunk) for chunk in chunks])
    if expr.op == "like":
        lead, core, trail = like_pattern(values[0])
        if not core:
            return None
        if not (lead or trail):
            return _Test("contains" if listed else "=", path, (core,))
        if listed or not trail:  # a wildcard on tags, or an ends-with: left to the evaluator
            return None
        return _Test("contains" if lead else "begins_with", path, (core,))
    if expr.op in _ORDERING:
        return _Test(_ORDERING[expr.op], path, values)
    return None


@dataclass
class _Placeholders:
    names: dict[str, str] = field(default_factory=dict)  # attribute name -> '#nK'
    values: dict[str, str] = field(default_factory=dict)  # value -> ':vK'

    def _name(self, name: str) -> str:
        return self.names.setdefault(name, f"#n{len(self.names)}")

    def _value(self, value: str) -> str:
        return self.values.setdefault(value, f":v{len(self.values)}")

    def render(self, node: _Node) -> str:
        if isinstance(node, _Group):
            return f" {node.joiner} ".join(f"({self.render(part)})" for part in node.parts)
        path = ".".join(self._name(part) for part in node.path)
        if node.kind == "IN":
            return f"{path} IN ({', '.join(self._value(v) for v in node.values)})"
        if node.kind in ("begins_with", "contains"):
            return f"{node.kind}({path}, {self._value(node.values[0])})"
        return f"{path} {node.kind} {self._value(node.values[0])}"
