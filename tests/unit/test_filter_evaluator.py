"""The authoritative semantics of a filter over a decoded DynamoDB item."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from product_export.filters import matches, parse_filter, referenced_attributes

ITEM: dict[str, Any] = {
    "id": "00000000-0000-0000-0000-000000000042",
    "name": "Blue Shoes",
    "description": "",
    "slug": "blue-shoes",
    "sku": "SHOE-42",
    "status": "live",
    "commodity_type": "physical",
    "mpn": "MPN-1",
    "external_ref": "ext-0042",
    "owner": "store",
    "parent_id": None,
    "created_at": "2024-01-05T13:46:42.070Z",
    "updated_at": "2024-03-01T00:00:00.000Z",
    "tags": ["summer", "sale"],
    "product_types": ["standard"],
    "templates": ["11111111-tmpl"],
    "extensions": {
        "shoes": {
            "size": Decimal("42"),
            "width": Decimal("9.50"),
            "waterproof": True,
            "note": None,
            "fit": "wide",
        },
        "care": {},
    },
    "shopper_attributes": {"colour": "blue", "material": ""},
    "admin_attributes": {"cost": "12.00"},
}


def check(text: str, item: dict[str, Any] | None = None) -> bool:
    return matches(parse_filter(text), ITEM if item is None else item)


def test_no_filter_matches_everything() -> None:
    assert matches(None, ITEM)
    assert matches(None, {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eq(sku,SHOE-42)", True),
        ("eq(sku,shoe-42)", False),  # case-sensitive
        ("eq(sku,SHOE-4)", False),
        ("eq(name,Blue Shoes)", True),
        ("eq(status,live)", True),
        ("eq(status,draft)", False),
        ("eq(status,nonsense)", False),
        ("eq(mpn,MPN-1)", True),
        ("eq(manufacturer_part_num,MPN-1)", True),
        ("eq(upc_ean,x)", False),  # missing
        ('eq(upc_ean,"")', False),  # missing is not ""
        ('eq(description,"")', True),  # stored "" is ""
        ('eq(parent_id,"")', False),  # None counts as missing
        ("eq(parent_id,None)", False),
        ("eq(created_at,2024-01-05T14:46:42.070+01:00)", True),  # normalised value
        ("eq(created_at,2024-01-05)", False),
    ],
)
def test_eq_on_scalars(text: str, expected: bool) -> None:
    assert check(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eq(tags,sale)", True),
        ("eq(tags,sal)", False),
        ("eq(product_types,standard)", True),
        ("eq(product_types,bundle)", False),
        ("eq(templates,11111111-tmpl)", True),  # by id
        ("eq(templates,shoes)", True),  # by slug (extensions key)
        ("eq(templates,care)", True),
        ("eq(templates,hats)", False),
    ],
)
def test_eq_on_lists_and_templates(text: str, expected: bool) -> None:
    assert check(text) is expected


def test_list_fields_as_sets_and_odd_shapes() -> None:
    assert check("eq(tags,a)", {"tags": {"a", "b"}})
    assert not check("eq(tags,a)", {"tags": "a"})  # a string is not a list
    assert not check("eq(tags,a)", {"tags": None})
    assert not check("eq(sku,a)", {"sku": ["a"]})  # a list is not a scalar
    assert not check("eq(templates,a)", {"templates": None, "extensions": "a"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eq(extensions.shoes.size,42)", True),  # Decimal('42') renders as its CSV cell, 42
        ("eq(extensions.shoes.size,42.0)", False),
        ("eq(extensions.shoes.width,9.5)", True),
        ("eq(extensions.shoes.waterproof,true)", True),
        ("eq(extensions.shoes.waterproof,True)", False),
        ("eq(extensions.shoes.fit,wide)", True),
        ('eq(extensions.shoes.note,"")', False),
        ("eq(extensions.shoes.missing,x)", False),
        ("eq(extensions.hats.size,42)", False),
        ("eq(shopper_attributes.colour,blue)", True),
        ("eq(shopper_attributes.colour,Blue)", False),
        ("eq(admin_attributes.cost,12.00)", True),
        ("eq(admin_attributes.colour,blue)", False),
    ],
)
def test_eq_on_map_fields(text: str, expected: bool) -> None:
    assert check(text) is expected


def test_numbers_of_every_python_type_compare_as_cell_text() -> None:
    for stored in (42, 42.0, Decimal("42"), Decimal("4.2E+1")):
        assert check("eq(extensions.t.f,42)", {"extensions": {"t": {"f": stored}}}), stored
    assert check("eq(extensions.t.f,false)", {"extensions": {"t": {"f": False}}})
    assert check("eq(extensions.t.f,0.1)", {"extensions": {"t": {"f": 0.1}}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("like(name,Blue Shoes)", True),  # no '*': exact
        ("like(name,Blue)", False),
        ("like(name,Blue*)", True),
        ("like(name,blue*)", False),  # case-sensitive
        ("like(name,*Shoes)", True),
        ("like(name,*Blue)", False),
        ("like(name,*e S*)", True),
        ("like(name,*x*)", False),
        ("like(name,*)", True),
        ("like(name,**)", True),
        ("like(upc_ean,*)", False),  # '*' needs a value
        ("like(description,*)", True),  # "" is a value
        ("like(mpn,MPN*)", True),
        ("like(tags,sum*)", True),
        ("like(tags,*ale)", True),
        ("like(tags,*umme*)", True),
        ("like(tags,summer)", True),
        ("like(tags,summe)", False),
        ("like(tags,*x*)", False),
    ],
)
def test_like(text: str, expected: bool) -> None:
    assert check(text) is expected


def test_like_on_missing_tags() -> None:
    assert not check("like(tags,*)", {})
    assert not check("like(tags,*)", {"tags": []})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in(sku,a,SHOE-42,b)", True),
        ("in(sku,a,b)", False),
        ("in(upc_ean,a)", False),
        ("in(tags,winter,sale)", True),
        ("in(tags,winter,autumn)", False),
        ("in(product_types,bundle,standard)", True),
        ("in(id,00000000-0000-0000-0000-000000000042)", True),
    ],
)
def test_in(text: str, expected: bool) -> None:
    assert check(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gt(updated_at,2024-02-01T00:00:00Z)", True),
        ("gt(updated_at,2024-03-01T00:00:00Z)", False),
        ("ge(updated_at,2024-03-01T00:00:00Z)", True),
        ("lt(created_at,2024-01-05T13:46:42.071Z)", True),
        ("lt(created_at,2024-01-05T13:46:42.070Z)", False),
        ("le(created_at,2024-01-05T13:46:42.070Z)", True),
        ("le(created_at,2024-01-05T14:46:42.070+01:00)", True),
        ("gt(external_ref,ext-0041)", True),
        ("gt(external_ref,ext-1)", False),  # plain string comparison
        ("lt(id,1)", True),
    ],
)
def test_ordering(text: str, expected: bool) -> None:
    assert check(text) is expected


def test_ordering_on_missing_is_false() -> None:
    assert not check("gt(external_ref,a)", {})
    assert not check("lt(external_ref,z)", {"external_ref": None})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("is_null(upc_ean)", True),  # missing
        ("is_null(parent_id)", True),  # None
        ("is_null(description)", True),  # ""
        ("is_null(sku)", False),
        ("is_null(tags)", False),
        ("is_null(extensions.shoes.note)", True),
        ("is_null(extensions.shoes.size)", False),
        ("is_null(extensions.nope.size)", True),
        ("is_null(shopper_attributes.material)", True),
        ("is_null(shopper_attributes.colour)", False),
        ("is_null(templates)", False),
    ],
)
def test_is_null(text: str, expected: bool) -> None:
    assert check(text) is expected


def test_is_null_on_empty_collections() -> None:
    assert check("is_null(tags)", {"tags": []})
    assert check("is_null(product_types)", {"product_types": set()})
    assert check("is_null(templates)", {"templates": [], "extensions": {}})
    assert check("is_null(templates)", {})
    assert not check("is_null(templates)", {"extensions": {"shoes": {}}})
    assert not check("is_null(templates)", {"templates": ["t1"]})


def test_and_or() -> None:
    assert check("eq(sku,SHOE-42):eq(status,live)")
    assert not check("eq(sku,SHOE-42):eq(status,draft)")
    assert check("(eq(status,draft)|eq(sku,SHOE-42))")
    assert not check("(eq(status,draft)|eq(sku,x))")
    assert check("(eq(status,draft):eq(sku,SHOE-42)|eq(tags,sale):like(name,Blue*))")
    assert not check("(eq(status,draft):eq(sku,SHOE-42)|eq(tags,sale):like(name,Red*))")


def test_delta_export_filter() -> None:
    assert check("gt(updated_at,2024-02-01T00:00:00.000Z):eq(status,live)")
    assert not check("gt(updated_at,2024-03-01T00:00:00.000Z):eq(status,live)")


@pytest.mark.parametrize(
    ("text", "attributes"),
    [
        (None, set()),
        ("eq(sku,a)", {"sku"}),
        ("eq(mpn,a)", {"mpn"}),
        ("eq(templates,a)", {"templates", "extensions"}),
        ("eq(extensions.t.f,1)", {"extensions"}),
        (
            "eq(shopper_attributes.k,v):is_null(admin_attributes.k)",
            {"shopper_attributes", "admin_attributes"},
        ),
        ("(eq(sku,a)|in(tags,b,c)):gt(updated_at,2024-01-01)", {"sku", "tags", "updated_at"}),
    ],
)
def test_referenced_attributes(text: str | None, attributes: set[str]) -> None:
    assert referenced_attributes(parse_filter(text)) == attributes


def test_evaluation_reads_only_referenced_attributes() -> None:
    text = "(eq(sku,SHOE-42)|eq(templates,shoes)):like(name,Blue*):eq(shopper_attributes.colour,blue)"
    expr = parse_filter(text)
    projected = {key: value for key, value in ITEM.items() if key in referenced_attributes(expr)}
    assert matches(expr, projected)
