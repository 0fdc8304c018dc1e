"""Evaluate a filter against a decoded DynamoDB item. This is the authoritative semantics."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from product_export.filters.fields import LIST_FIELDS, TEMPLATES, like_pattern
from product_export.filters.model import And, Comparison, Expr
from product_export.values import cell_text

_MISSING = object()
_COLLECTIONS = (list, tuple, set, frozenset)
_ORDERING: Mapping[str, Callable[[str, str], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def matches(expr: Expr | None, item: Mapping[str, Any]) -> bool:
    """Whether the item passes the filter (None passes everything)."""
    if expr is None:
        return True
    if isinstance(expr, Comparison):
        return _compare(expr, item)
    if isinstance(expr, And):
        return all(matches(term, item) for term in expr.terms)
    return any(matches(term, item) for term in expr.terms)


def compile_matcher(expr: Expr | None) -> Callable[[Mapping[str, Any]], bool]:
    """:func:`matches` for one filter, with its predicates built once (for streams of items)."""
    if expr is None:
        return lambda item: True
    if isinstance(expr, Comparison):
        return _compile_comparison(expr)
    terms = tuple(compile_matcher(term) for term in expr.terms)
    if isinstance(expr, And):

        def every(item: Mapping[str, Any]) -> bool:
            for term in terms:  # noqa: SIM110 (all() over a generator costs more per item)
                if not term(item):
                    return False
            return True

        return every

    def some(item: Mapping[str, Any]) -> bool:
        for term in terms:  # noqa: SIM110
            if term(item):
                return True
        return False

    return some


def _compile_comparison(expr: Comparison) -> Callable[[Mapping[str, Any]], bool]:
    if expr.op == "is_null":
        return lambda item: _compare(expr, item)
    test = _predicate(expr.op, expr.values)
    path = expr.field.path
    if len(path) == 1 and expr.field.name not in LIST_FIELDS and expr.field.name != TEMPLATES:
        # A top-level scalar (status, sku, ...): its one candidate text, usually the string itself.
        (name,) = path

        def scalar(item: Mapping[str, Any]) -> bool:
            # isinstance against the Mapping ABC is slow; items are dicts (or ProductRows).
            value = item.get(name) if isinstance(item, (dict, Mapping)) else None
            if value.__class__ is str:
                return test(value)
            return _is_scalar(value) and test(cell_text(value))

        return scalar
    return lambda item: any(test(text) for text in _candidates(expr, item))


def referenced_attributes(expr: Expr | None) -> frozenset[str]:
    """The top-level item attributes :func:`matches` reads (for a ProjectionExpression)."""
    if expr is None:
        return frozenset()
    if isinstance(expr, Comparison):
        if expr.field.name == TEMPLATES:
            return frozenset({TEMPLATES, "extensions"})
        return frozenset({expr.field.path[0]})
    return frozenset().union(*(referenced_attributes(term) for term in expr.terms))


def _lookup(item: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = item
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _is_null(value: Any) -> bool:
    if value is _MISSING or value is None or value == "":
        return True
    return isinstance(value, (Mapping, *_COLLECTIONS)) and len(value) == 0


def _is_scalar(value: Any) -> bool:
    return value is not _MISSING and value is not None and not isinstance(value, (Mapping, *_COLLECTIONS))


def _candidates(expr: Comparison, item: Mapping[str, Any]) -> list[str]:
    """The texts a comparison tests: the scalar's cell text, or each element of a list field."""
    value = _lookup(item, expr.field.path)
    name = expr.field.name
    if name not in LIST_FIELDS and name != TEMPLATES:
        return [cell_text(value)] if _is_scalar(value) else []
    texts = [cell_text(v) for v in value if _is_scalar(v)] if isinstance(value, _COLLECTIONS) else []
    if name == TEMPLATES:
        # A template may be named by id (the templates list) or by slug (the extensions keys).
        extensions = item.get("extensions")
        if isinstance(extensions, Mapping):
            texts.extend(key for key in extensions if isinstance(key, str))
    return texts


def _predicate(op: str, values: tuple[str, ...]) -> Callable[[str], bool]:
    if op in ("eq", "in"):
        return frozenset(values).__contains__
    if op == "like":
        lead, core, trail = like_pattern(values[0])
        if lead and trail:
            return lambda text: core in text
        if lead:
            return lambda text: text.endswith(core)
        if trail:
            return lambda text: text.startswith(core)
        return lambda text: text == core
    compare, bound = _ORDERING[op], values[0]
    return lambda text: compare(text, bound)


def _compare(expr: Comparison, item: Mapping[str, Any]) -> bool:
    if expr.op == "is_null":
        if expr.field.name == TEMPLATES:
            return _is_null(_lookup(item, (TEMPLATES,))) and _is_null(_lookup(item, ("extensions",)))
        return _is_null(_lookup(item, expr.field.path))
    test = _predicate(expr.op, expr.values)
    return any(test(text) for text in _candidates(expr, item))
