"""Parsing and printing of the filter language (contract section "Filter grammar")."""

from __future__ import annotations

import pytest

from product_export.filters import (
    FIELD_OPERATORS,
    MAX_FILTER_BYTES,
    MAX_FILTERS,
    OPERATORS,
    And,
    Comparison,
    Field,
    FilterError,
    Or,
    format_filter,
    parse_filter,
    resolve_field,
)

TS = "2024-01-05T13:46:42.070Z"
DYNAMIC_FIELDS = ["extensions.shoes.size", "shopper_attributes.colour", "admin_attributes.cost"]


def eq(field: str, value: str) -> Comparison:
    return Comparison("eq", resolve_field(field), (value,))


def error(text: str) -> str:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    assert str(caught.value) == caught.value.detail
    return caught.value.detail


def sample_call(op: str, field: str) -> str:
    value = TS if field in ("created_at", "updated_at") else "abc"
    if op == "is_null":
        return f"is_null({field})"
    if op == "in":
        return f"in({field},{value},{value})"
    return f"{op}({field},{value})"


ALLOWED = [(op, f) for f, ops in FIELD_OPERATORS.items() for op in sorted(ops)] + [
    (op, f) for f in DYNAMIC_FIELDS for op in ("eq", "is_null")
]
DISALLOWED = [
    (op, f) for f in [*FIELD_OPERATORS, *DYNAMIC_FIELDS] for op in OPERATORS if (op, f) not in ALLOWED
]


def test_field_table_matches_the_contract() -> None:
    ops = {op: {f for f, allowed in FIELD_OPERATORS.items() if op in allowed} for op in OPERATORS}
    assert ops["like"] == {
        *("sku", "slug", "upc_ean", "manufacturer_part_num", "name", "tags", "description", "external_ref"),
    }
    assert ops["in"] == {
        *("id", "name", "sku", "slug", "upc_ean", "manufacturer_part_num", "product_types", "parent_id"),
        *("tags", "external_ref"),
    }
    for op in ("gt", "ge", "lt", "le"):
        assert ops[op] == {"id", "created_at", "updated_at", "external_ref"}
    assert ops["eq"] == ops["is_null"] == set(FIELD_OPERATORS)
    assert len(FIELD_OPERATORS) == 17


@pytest.mark.parametrize(("op", "field"), ALLOWED)
def test_every_allowed_operator_and_field_parses(op: str, field: str) -> None:
    expr = parse_filter(sample_call(op, field))
    assert isinstance(expr, Comparison)
    assert expr.op == op
    assert expr.field == resolve_field(field)
    assert parse_filter(format_filter(expr)) == expr


@pytest.mark.parametrize(("op", "field"), DISALLOWED)
def test_operator_not_allowed_on_field_is_named(op: str, field: str) -> None:
    detail = error(sample_call(op, field))
    assert detail.startswith(f"Operator '{op}' is not allowed on field '{field}' in {op}(")


def test_unknown_field_is_named_with_the_call() -> None:
    assert error("eq(colour,red)") == "Unknown field 'colour' in eq(colour,red)"
    assert error("eq(sku,a):like(Name,b*)") == "Unknown field 'Name' in like(Name,b*)"
    assert "Unknown field 'extensions'" in error("eq(extensions,x)")


def test_unknown_operator_is_named() -> None:
    assert error("foo(sku,1)").startswith("Unknown operator 'foo' at position 0")
    assert error("eq(sku,1):EQ(sku,2)").startswith("Unknown operator 'EQ' at position 10")
    assert "Unknown operator 'sku'" in error("sku=abc")


def test_simple_values_and_structure() -> None:
    assert parse_filter("eq(sku,product-1)") == Comparison("eq", Field("sku", ("sku",)), ("product-1",))
    assert parse_filter("in(id,1,2,3)") == Comparison("in", Field("id", ("id",)), ("1", "2", "3"))
    assert parse_filter("is_null(description)") == Comparison(
        "is_null", Field("description", ("description",)), ()
    )
    assert parse_filter("eq(sku,a):eq(name,b)") == And((eq("sku", "a"), eq("name", "b")))


def test_no_filter() -> None:
    assert parse_filter(None) is None
    assert parse_filter("") is None
    assert parse_filter("   ") is None


def test_non_string_is_a_filter_error() -> None:
    with pytest.raises(FilterError):
        parse_filter(b"eq(sku,a)")  # type: ignore[arg-type]


def test_filter_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Unknown field"):
        parse_filter("eq(nope,1)")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('eq(name,"a,b")', "a,b"),
        ("eq(name,'a,b')", "a,b"),
        ('eq(name,"a\\"b")', 'a"b'),
        ("eq(name,'it\\'s')", "it's"),
        ('eq(name,"it\'s")', "it's"),
        ("eq(name,'say \"hi\"')", 'say "hi"'),
        ('eq(name,"back\\\\slash")', "back\\slash"),
        ('eq(name,"a\\nb")', "a\\nb"),  # other backslashes are literal
        ("eq(name,'a\\\"b')", 'a\\"b'),  # \" inside single quotes is literal
        ('eq(name,"")', ""),
        ("eq(name,'')", ""),
        ('eq(name,  "spaced"  )', "spaced"),
        ('eq(name,"(x|y):z")', "(x|y):z"),
        ("eq(name,Blue Shoes)", "Blue Shoes"),
        ("eq(name, padded )", " padded "),  # bare values are kept exactly
        ("eq(name,O'Brien)", "O'Brien"),
        ("eq(name,a|b)", "a|b"),
        ("eq(name,a:b)", "a:b"),
        ("eq(name,é ü 日本)", "é ü 日本"),
    ],
)
def test_values_quotes_and_escapes(text: str, value: str) -> None:
    expr = parse_filter(text)
    assert isinstance(expr, Comparison)
    assert expr.values == (value,)
    assert parse_filter(format_filter(expr)) == expr


def test_mpn_alias() -> None:
    expected = Comparison("like", Field("manufacturer_part_num", ("mpn",)), ("X-*",))
    assert parse_filter("like(mpn,X-*)") == expected
    assert parse_filter("like(manufacturer_part_num,X-*)") == expected
    assert format_filter(expected) == "like(manufacturer_part_num,X-*)"
    assert error("gt(mpn,1)").startswith("Operator 'gt' is not allowed on field 'mpn'")


def test_map_field_paths() -> None:
    assert parse_filter("eq(extensions.shoes.size,42)") == Comparison(
        "eq", Field("extensions.shoes.size", ("extensions", "shoes", "size")), ("42",)
    )
    nested = parse_filter("eq(extensions.shoes.size.eu,42)")
    assert isinstance(nested, Comparison)
    assert nested.field.path == ("extensions", "shoes", "size.eu")
    attr = parse_filter("eq(shopper_attributes.a.b,x)")
    assert isinstance(attr, Comparison)
    assert attr.field == Field("shopper_attributes.a.b", ("shopper_attributes", "a.b"))
    admin = parse_filter("is_null(admin_attributes.cost)")
    assert isinstance(admin, Comparison)
    assert admin.field.path == ("admin_attributes", "cost")


@pytest.mark.parametrize(
    "field",
    ["extensions.shoes", "extensions..size", "extensions.shoes.", "extensions.", "shopper_attributes."],
)
def test_incomplete_map_fields(field: str) -> None:
    detail = error(f"eq({field},1)")
    assert f"Invalid field '{field}'" in detail
    assert f"in eq({field},1)" in detail


def test_templates_field() -> None:
    assert parse_filter("eq(templates,shoes)") == Comparison(
        "eq", Field("templates", ("templates",)), ("shoes",)
    )


def test_or_and_nesting() -> None:
    a, b, c, d = (eq("sku", x) for x in "abcd")
    assert parse_filter("(eq(sku,a)|eq(sku,b))") == Or((a, b))
    assert parse_filter("eq(sku,a):(eq(sku,b)|eq(sku,c))") == And((a, Or((b, c))))
    # ':' binds tighter than '|'
    assert parse_filter("(eq(sku,a):eq(sku,b)|eq(sku,c))") == Or((And((a, b)), c))
    assert parse_filter("(eq(sku,a)|eq(sku,b):eq(sku,c)|eq(sku,d))") == Or((a, And((b, c)), d))
    assert parse_filter("((eq(sku,a)|eq(sku,b))|eq(sku,c))") == Or((Or((a, b)), c))
    # parentheses around a single conjunction are just grouping
    assert parse_filter("(eq(sku,a))") == a
    assert parse_filter("((eq(sku,a):eq(sku,b)))") == And((a, b))
    assert parse_filter("eq(sku,a):(eq(sku,b):eq(sku,c))") == And((a, And((b, c))))


def test_whitespace_between_tokens_is_ignored() -> None:
    text = ' eq ( sku , "a" ) : ( eq(  sku ,"b" ) | eq(sku,"c") )  '
    assert parse_filter(text) == And((eq("sku", "a"), Or((eq("sku", "b"), eq("sku", "c")))))


def test_timestamps_are_bare_with_colons_and_normalised() -> None:
    expr = parse_filter(f"gt(updated_at,{TS})")
    assert expr == Comparison("gt", Field("updated_at", ("updated_at",)), (TS,))
    assert format_filter(expr) == f"gt(updated_at,{TS})"
    assert parse_filter("ge(created_at,2024-01-05T14:46:42.07+01:00)") == Comparison(
        "ge", Field("created_at", ("created_at",)), (TS,)
    )
    assert parse_filter("eq(created_at,2024-01-05)") == Comparison(
        "eq", Field("created_at", ("created_at",)), ("2024-01-05T00:00:00.000Z",)
    )
    both = parse_filter(f"gt(updated_at,{TS}):lt(updated_at,'2024-02-01T00:00:00Z')")
    assert isinstance(both, And)
    assert both.terms[1] == Comparison(
        "lt", Field("updated_at", ("updated_at",)), ("2024-02-01T00:00:00.000Z",)
    )


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2024-13-01", "2024-01-05T25:00:00Z", "0001-01-01T00:00:00+01:00", ""],
)
def test_invalid_timestamps_name_field_and_value(value: str) -> None:
    detail = error(f'gt(updated_at,"{value}")')
    assert detail.startswith(f"Invalid timestamp '{value}' for field 'updated_at' in gt(updated_at,")


def test_arity() -> None:
    assert error("eq(sku,a,b)") == "Operator 'eq' takes exactly 1 value, got 2 in eq(sku,a,b)"
    assert error("gt(id)") == "Operator 'gt' takes exactly 1 value, got 0 in gt(id)"
    assert error("in(id)") == "Operator 'in' takes at least 1 value, got 0 in in(id)"
    assert error("is_null(sku,a)") == "Operator 'is_null' takes no values, got 1 in is_null(sku,a)"


def test_like_wildcards() -> None:
    for value in ("abc", "abc*", "*abc", "*abc*", "*", "**"):
        expr = parse_filter(f"like(sku,{value})")
        assert isinstance(expr, Comparison)
        assert expr.values == (value,)
    for value in ("a*c", "***", "*a*c*", "a**"):
        assert error(f"like(sku,{value})").startswith("Wildcard '*' is only allowed at the start or end")
    # '*' is an ordinary character outside like
    assert parse_filter("eq(sku,a*c)") == eq("sku", "a*c")


def test_filter_count_limit() -> None:
    ten = ":".join(f"eq(sku,{i})" for i in range(MAX_FILTERS))
    expr = parse_filter(ten)
    assert isinstance(expr, And)
    assert len(expr.terms) == 10
    assert error(ten + ":eq(sku,x)") == "Too many filters: 11 (at most 10)"
    nested = "(" + "|".join(f"eq(sku,{i})" for i in range(12)) + ")"
    assert error(nested) == "Too many filters: 12 (at most 10)"


def test_byte_limit() -> None:
    head = "in(id,"
    body = ",".join(["x" * 39] * 200)
    text = head + body + ",y" + ")"
    text = text[:-1] + "z" * (MAX_FILTER_BYTES - len(text)) + ")"
    assert len(text.encode()) == MAX_FILTER_BYTES
    expr = parse_filter(text)
    assert isinstance(expr, Comparison)
    assert len(expr.values) == 201
    assert error(text[:-1] + "z)") == f"Filter is too long: {MAX_FILTER_BYTES + 1} bytes (at most 8192)"
    multibyte = 'eq(name,"' + "é" * 4092 + '")'  # 4092 two-byte characters + 11 ASCII bytes
    assert error(multibyte) == "Filter is too long: 8195 bytes (at most 8192)"


def test_nesting_depth_limit() -> None:
    assert parse_filter("(" * 30 + "eq(sku,a)" + ")" * 30) == eq("sku", "a")
    assert "nested too deeply" in error("(" * 1000 + "eq(sku,a)" + ")" * 1000)
    assert "nested too deeply" in error("(" * 4000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eq(sku,a", "Expected ',' or ')' at position 8, found the end of the filter"),
        ("eq(sku,a))", "Expected ':' or the end of the filter at position 9, found ')'"),
        ("(eq(sku,a)|eq(sku,b)", "Expected ':', '|' or ')' at position 20"),
        ("eq(sku,a)|eq(sku,b)", "Expected ':' or the end of the filter at position 9, found '|'"),
        ("eq(sku,a)eq(sku,b)", "Expected ':' or the end of the filter at position 9, found 'e'"),
        ("eq", "Expected '(' at position 2, found the end of the filter"),
        ("eq sku", "Expected '(' at position 3, found 's'"),
        ("eq()", "Expected a field name at position 3, found ')'"),
        ("eq(sku a,b)", "Expected ',' or ')' at position 7, found 'a'"),
        ("eq(sku,a):", "Expected a filter such as eq(field,value) at position 10"),
        (":eq(sku,a)", "Expected a filter such as eq(field,value) at position 0, found ':'"),
        ("()", "Expected a filter such as eq(field,value) at position 1, found ')'"),
        ("(eq(sku,a)|)", "Expected a filter such as eq(field,value) at position 11"),
        ("eq(sku,(a))", "Unexpected '(' in a value at position 7"),
        ('eq(sku,"a)', "Unterminated quoted value starting at position 7"),
        ('eq(sku,"a\\")', "Unterminated quoted value starting at position 7"),
        ('eq(sku,"a"b)', "Expected ',' or ')' at position 10, found 'b'"),
        ("eq(sku,)", 'Empty value at position 7 (write "" for an empty string)'),
        ("in(id,a,,b)", "Empty value at position 8"),
        ("in(id,a,b,)", "Empty value at position 10"),
        ("é(sku,a)", "Expected a filter such as eq(field,value) at position 0, found 'é'"),
        ('eq("sku",a)', "Expected a field name at position 3"),
        ("eq(sku,a) : : eq(sku,b)", "Expected a filter such as eq(field,value) at position 12"),
        ("filter=eq(sku,a)", "Unknown operator 'filter' at position 0"),
    ],
)
def test_syntax_errors_give_the_position(text: str, expected: str) -> None:
    assert error(text).startswith(expected)


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (eq("sku", "a"), "eq(sku,a)"),
        (eq("name", "a b"), 'eq(name,"a b")'),
        (eq("name", ""), 'eq(name,"")'),
        (eq("name", 'q"\\'), 'eq(name,"q\\"\\\\")'),
        (eq("name", "it's"), 'eq(name,"it\'s")'),
        (eq("name", "a:b"), "eq(name,a:b)"),
        (eq("name", "x,y|(z)"), 'eq(name,"x,y|(z)")'),
        (eq("mpn", "m"), "eq(manufacturer_part_num,m)"),
        (Or((eq("sku", "a"), And((eq("sku", "b"), eq("sku", "c"))))), "(eq(sku,a)|eq(sku,b):eq(sku,c))"),
        (And((eq("sku", "a"), And((eq("sku", "b"), eq("sku", "c"))))), "eq(sku,a):(eq(sku,b):eq(sku,c))"),
        (And((Or((eq("sku", "a"), eq("sku", "b"))), eq("sku", "c"))), "(eq(sku,a)|eq(sku,b)):eq(sku,c)"),
        (
            Comparison("gt", resolve_field("updated_at"), ("2024-01-05T14:46:42.070+01:00",)),
            f"gt(updated_at,{TS})",
        ),
        (Comparison("in", resolve_field("id"), ("1", "2")), "in(id,1,2)"),
        (Comparison("is_null", resolve_field("shopper_attributes.k"), ()), "is_null(shopper_attributes.k)"),
    ],
)
def test_format_filter_canonical_text(expr: And | Or | Comparison, text: str) -> None:
    assert format_filter(expr) == text
    reparsed = parse_filter(text)
    assert reparsed is not None
    assert format_filter(reparsed) == text


def test_and_or_need_two_terms() -> None:
    with pytest.raises(ValueError, match="at least two"):
        And((eq("sku", "a"),))
    with pytest.raises(ValueError, match="at least two"):
        Or(())


def test_ast_is_hashable_and_comparable() -> None:
    first = parse_filter("eq(sku,a):(in(id,1,2)|like(name,x*))")
    second = parse_filter(" eq(sku, 'a') : ( in(id,'1',\"2\") | like(name,\"x*\") ) ")
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1
