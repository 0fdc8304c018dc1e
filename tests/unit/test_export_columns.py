"""CSV columns: order, naming by template id or slug, include lists, cell rendering."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from product_export.catalogue.models import COLUMN_SEPARATOR as SEP
from product_export.catalogue.models import template_id
from product_export.errors import Unprocessable
from product_export.export.columns import BASE_COLUMNS, build_columns, cell, render_row, validate_include
from product_export.export.writer import write_csv

BASE = [header for header, _ in BASE_COLUMNS]
INDEX = [
    f"t{SEP}b",
    f"t{SEP}b{SEP}z",
    f"t{SEP}b{SEP}a",
    f"t{SEP}a",
    f"t{SEP}a{SEP}x",
    f"a{SEP}cost",
    f"s{SEP}fit",
    f"s{SEP}colour",
    f"a{SEP}cost",
]


def headers(**kwargs: object) -> list[str]:
    return [c.header for c in build_columns(INDEX, store_id="s1", **kwargs)]  # type: ignore[arg-type]


def test_contract_order_with_slugs() -> None:
    assert headers(use_template_slugs=True, include=None) == [
        *BASE,
        "template:a:x",
        "template:a:created_at",
        "template:a:updated_at",
        "template:b:a",
        "template:b:z",
        "template:b:created_at",
        "template:b:updated_at",
        "shopper_attributes.colour",
        "shopper_attributes.fit",
        "admin_attributes.cost",
    ]


def test_templates_named_by_id_by_default() -> None:
    ids = {slug: template_id("s1", slug) for slug in ("a", "b")}
    template_headers = [
        h for h in headers(use_template_slugs=False, include=None) if h.startswith("template:")
    ]
    assert {h.split(":")[1] for h in template_headers} == set(ids.values())
    names = [h.split(":")[1] for h in template_headers]
    assert names == sorted(names), "templates ordered by the name their columns use"
    assert f"template:{ids['b']}:z" in template_headers


def test_include_keeps_the_always_exported_columns_and_accepts_id_or_slug() -> None:
    by_slug = headers(
        use_template_slugs=False, include=["description", "template:b:z", "admin_attributes.cost"]
    )
    assert by_slug == [
        "id",
        "external_ref",
        "name",
        "description",
        "commodity_type",
        "sku",
        f"template:{template_id('s1', 'b')}:z",
        "admin_attributes.cost",
    ]
    by_id = headers(use_template_slugs=True, include=[f"template:{template_id('s1', 'a')}:x"])
    assert by_id == ["id", "external_ref", "name", "commodity_type", "sku", "template:a:x"]


@pytest.mark.parametrize("entry", ["colour", "template:x", "template::f", "shopper_attributes.", "admin", ""])
def test_unknown_include_entries_are_422(entry: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        validate_include(["id", entry])
    assert repr(entry)[1:-1] in caught.value.detail
    assert caught.value.source == "/data/attributes/columns/include/1"


def test_cells_render_like_the_api_shows_values() -> None:
    item = {
        "tags": ["a", "b"],
        "extensions": {"t": {"n": Decimal("42"), "f": Decimal("4.50"), "b": True, "z": None}},
    }
    assert cell(item, ("tags",)) == "a,b"
    assert cell(item, ("extensions", "t", "n")) == "42"
    assert cell(item, ("extensions", "t", "f")) == "4.5"
    assert cell(item, ("extensions", "t", "b")) == "true"
    assert cell(item, ("extensions", "t", "z")) == ""
    assert cell(item, ("extensions", "missing", "n")) == ""
    assert cell(item, ("name",)) == ""


@pytest.mark.parametrize(
    ("stored", "text"),
    [
        ("1E+30", "1" + "0" * 30),
        ("9.99E+125", "999" + "0" * 123),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        ("1234567890.1234567890123456789012345678", "1234567890.1234567890123456789012345678"),
        ("-1E-130", "-0." + "0" * 129 + "1"),
    ],
)
def test_numbers_as_large_or_precise_as_dynamodb_stores_render_exactly(stored: str, text: str) -> None:
    assert cell({"n": Decimal(stored)}, ("n",)) == text


def test_write_csv_quotes_per_rfc_4180_and_streams_in_chunks() -> None:
    columns = build_columns([], store_id="s", use_template_slugs=True, include=None)
    nasty = 'a,b "c"\r\nd\ne'
    items = [{"id": str(n), "name": nasty * (n % 3 + 1), "sku": f"S{n}"} for n in range(5000)]

    class Sink:
        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.chunks.append(data)

    sink = Sink()
    assert write_csv(columns, items, sink) == 5000
    text = b"".join(sink.chunks).decode()
    assert text.startswith(",".join(BASE) + "\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == BASE
    assert [dict(zip(BASE, row, strict=True))["name"] for row in rows[1:]] == [i["name"] for i in items]
    assert render_row(columns, items[1])[2] == nasty * 2
