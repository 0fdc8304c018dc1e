"""Property tests of the filter language (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_filter_dynamodb import assert_well_formed, condition_accepts

from product_export.filters import (
    FIELD_OPERATORS,
    MAX_FILTER_BYTES,
    MAX_FILTERS,
    And,
    Comparison,
    Expr,
    FilterError,
    Or,
    compile_dynamodb,
    format_filter,
    matches,
    parse_filter,
    referenced_attributes,
    resolve_field,
)
from product_export.values import format_timestamp

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Small pools shared by filters and items so that generated filters actually match items.
WORDS = [
    "a",
    "b",
    "ab",
    "ba",
    "a b",
    " a",
    "",
    "x,y",
    "(p)",
    "q|r",
    'say "hi"',
    "it's",
    "back\\slash",
    "c:d",
    "ü",
]
SLUGS = ["shoes", "hats"]
KEYS = ["size", "colour", "a.b"]
TIMESTAMPS = ["2024-01-05T13:46:42.070Z", "2024-01-05T13:46:42.071Z", "2023-12-31T23:59:59.999Z"]

words = st.one_of(st.sampled_from(WORDS), st.text(max_size=6))
like_values = st.builds(
    lambda lead, core, trail: lead + core.replace("*", "") + trail,
    st.sampled_from(["", "*"]),
    words,
    st.sampled_from(["", "*"]),
)
timestamps = st.one_of(
    st.sampled_from(TIMESTAMPS),
    st.datetimes(
        min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ).map(format_timestamp),
)
key_text = st.text(alphabet="abz.-_:|*#é", min_size=1, max_size=5)
keys = st.one_of(st.sampled_from(KEYS), key_text)
slugs = st.one_of(st.sampled_from(SLUGS), key_text.map(lambda s: s.replace(".", "") or "t"))

fields = st.one_of(
    st.sampled_from([resolve_field(name) for name in sorted(FIELD_OPERATORS)]),
    st.builds(lambda slug, key: resolve_field(f"extensions.{slug}.{key}"), slugs, keys),
    st.builds(
        lambda kind, key: resolve_field(f"{kind}_attributes.{key}"),
        st.sampled_from(["shopper", "admin"]),
        keys,
    ),
)
_OPERATORS_OF = {name: st.sampled_from(sorted(ops)) for name, ops in FIELD_OPERATORS.items()}
_MAP_OPERATORS = st.sampled_from(["eq", "is_null"])
_VALUE_LISTS = {id(s): st.lists(s, min_size=1, max_size=4) for s in (words, like_values, timestamps)}


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    field = draw(fields)
    op = draw(_OPERATORS_OF.get(field.name, _MAP_OPERATORS))
    if op == "is_null":
        return Comparison(op, field, ())
    values = (
        timestamps if field.name in ("created_at", "updated_at") else like_values if op == "like" else words
    )
    if op == "in":
        return Comparison(op, field, tuple(draw(_VALUE_LISTS[id(values)])))
    return Comparison(op, field, (draw(values),))


def _count(expr: Expr) -> int:
    return 1 if isinstance(expr, Comparison) else sum(_count(term) for term in expr.terms)


def _subexpressions(expr: Expr) -> list[Expr]:
    if isinstance(expr, Comparison):
        return [expr]
    return [expr, *(sub for term in expr.terms for sub in _subexpressions(term))]


exprs: st.SearchStrategy[Expr] = st.recursive(
    comparisons(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda terms: And(tuple(terms))),
        st.lists(children, min_size=2, max_size=3).map(lambda terms: Or(tuple(terms))),
    ),
    max_leaves=MAX_FILTERS,
)

extension_values = st.one_of(
    words,
    st.integers(-5, 50),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-100, max_value=100),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
string_lists = st.lists(words, max_size=3)


_SCALARS = (
    *("id", "name", "description", "slug", "sku", "status", "commodity_type", "upc_ean"),
    *("mpn", "external_ref", "owner", "parent_id"),
)
# A decoded DynamoDB product item, every attribute optional.
items = st.fixed_dictionaries(
    {},
    optional={
        **{name: st.one_of(words, st.none()) for name in _SCALARS},
        "created_at": st.one_of(timestamps, st.none()),
        "updated_at": timestamps,
        "tags": string_lists,
        "product_types": string_lists,
        "templates": st.lists(st.sampled_from([*SLUGS, *WORDS]), max_size=2),
        "extensions": st.dictionaries(
            st.sampled_from(SLUGS),
            st.dictionaries(st.sampled_from(KEYS), extension_values, max_size=3),
            max_size=2,
        ),
        "shopper_attributes": st.dictionaries(st.sampled_from(KEYS), words, max_size=3),
        "admin_attributes": st.dictionaries(st.sampled_from(KEYS), words, max_size=3),
    },
)


@SETTINGS
@given(exprs, st.lists(items, min_size=1, max_size=3))
def test_format_then_parse_is_identity(expr: Expr, sample: list[dict[str, Any]]) -> None:
    assume(_count(expr) <= MAX_FILTERS)
    text = format_filter(expr)
    assert len(text.encode()) <= MAX_FILTER_BYTES
    parsed = parse_filter(text)
    assert parsed == expr
    assert format_filter(parsed) == text
    for item in sample:
        assert matches(parsed, item) == matches(expr, item)
        if isinstance(expr, And):
            assert matches(expr, item) == all(matches(term, item) for term in expr.terms)
        elif isinstance(expr, Or):
            assert matches(expr, item) == any(matches(term, item) for term in expr.terms)
        # the evaluator reads nothing outside referenced_attributes
        wanted = referenced_attributes(expr)
        assert matches(expr, {k: v for k, v in item.items() if k in wanted}) == matches(expr, item)


def _check_parse(text: str) -> None:
    try:
        expr = parse_filter(text)
    except FilterError as error:
        assert error.detail
        assert str(error) == error.detail
        return
    if expr is None:
        assert not text.strip()
        return
    # whatever parses has a canonical text that parses back to the same tree
    canonical = format_filter(expr)
    if len(canonical.encode()) <= MAX_FILTER_BYTES:
        assert parse_filter(canonical) == expr


@SETTINGS
@given(st.text())
def test_arbitrary_text_parses_or_raises_filter_error(text: str) -> None:
    _check_parse(text)


TOKENS = [
    *("eq", "in", "like", "is_null", "gt", "le", "EQ", "(", ")", "|", ":", ",", " ", '"', "'", "\\", "*"),
    *("sku", "tags", "mpn", "updated_at", "extensions.a.b", "extensions.a", "shopper_attributes.k"),
    *("x", "2024-01-05T13:46:42Z", "eq(sku,a)", "in(id,1,2)", "like(name,*a*)"),
]


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))
def test_token_soup_parses_or_raises_filter_error(text: str) -> None:
    _check_parse(text)


MUTATION_CHARS = st.one_of(st.sampled_from(list(",()|:\"'\\* ")), st.characters())


@SETTINGS
@given(
    exprs,
    st.lists(
        st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.integers(0, 10_000), MUTATION_CHARS),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_filters_parse_or_raise_filter_error(expr: Expr, edits: list[tuple[str, int, str]]) -> None:
    text = format_filter(expr)
    for kind, where, char in edits:
        at = where % (len(text) + 1)
        if kind == "insert":
            text = text[:at] + char + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    _check_parse(text)


def plant(expr: Comparison, item: dict[str, Any]) -> dict[str, Any]:
    """Store in the item a value the comparison looks for, so that soundness checks are not vacuous."""
    if not expr.values:
        return item
    value = expr.values[0].strip("*") if expr.op == "like" else expr.values[0]
    top = expr.field.path[0]
    if expr.field.name in ("tags", "product_types", "templates"):
        item[top] = [*item.get(top, []), value]
    elif top == "extensions":
        _, slug, key = expr.field.path
        item[top] = {**item.get(top, {}), slug: {**item.get(top, {}).get(slug, {}), key: value}}
    elif len(expr.field.path) == 2:
        item[top] = {**item.get(top, {}), expr.field.path[1]: value}
    else:
        item[top] = value
    return item


@SETTINGS
@given(exprs, st.lists(items, min_size=1, max_size=2), st.data())
def test_compiled_condition_is_a_sound_superset(
    expr: Expr, sample: list[dict[str, Any]], data: st.DataObject
) -> None:
    leaves = [sub for sub in _subexpressions(expr) if isinstance(sub, Comparison)]
    sample.append(plant(data.draw(st.sampled_from(leaves)), data.draw(items)))
    for sub in _subexpressions(expr):
        condition = compile_dynamodb(sub)
        if condition is not None:
            assert_well_formed(condition)
        for item in sample:
            if matches(sub, item):
                assert condition_accepts(condition, item), (format_filter(sub), condition, item)


@SETTINGS
@given(comparisons(), items)
def test_comparison_soundness_with_planted_value(expr: Comparison, item: dict[str, Any]) -> None:
    item = plant(expr, item)
    condition = compile_dynamodb(expr)
    if matches(expr, item):
        assert condition_accepts(condition, item), (format_filter(expr), condition, item)


def test_planted_items_match_and_are_pushed_down() -> None:
    """Guard against a vacuous soundness property: matching items with a pushed-down condition occur."""
    hits = 0

    @settings(max_examples=100, deadline=None, database=None)
    @given(comparisons(), items)
    def count(expr: Comparison, item: dict[str, Any]) -> None:
        nonlocal hits
        hits += matches(expr, plant(expr, item)) and compile_dynamodb(expr) is not None

    count()
    assert hits >= 10
