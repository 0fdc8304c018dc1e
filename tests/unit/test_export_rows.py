"""The part writer's fast path (export/rows.py and the typed page decoding it stands on) gives exactly
what the generic path gives: the same cells as ``row_renderer`` on ``decode_item``'s product, the
same decoded attributes for matching_products, the same filter decisions, the same CSV bytes."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_filter_properties import exprs
from test_filter_properties import items as filter_items

from product_export.adapters.aws import DECODED_PAGE, RAW_BODY, _set_body_aside, decoding_pages
from product_export.adapters.dynamo_json import (
    AttributeValue,
    decode_item,
    decode_page,
    encode_item,
    to_python,
)
from product_export.catalogue.models import to_stored_number
from product_export.catalogue.service import item_attributes
from product_export.export import writer
from product_export.export.columns import BASE_COLUMNS, Column, build_columns, row_renderer
from product_export.export.rows import PartRows, ProductRow
from product_export.export.writer import csv_text, write_csv
from product_export.filters import Expr, compile_matcher, matches, parse_filter

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE = [Column(header, (attribute,)) for header, attribute in BASE_COLUMNS]


def body_of(items: list[dict[str, Any]], *, order: str = "as is") -> bytes:
    """A Query response body as DynamoDB sends it (compact, UTF-8), items in their stored form."""
    typed = [encode_item(item) for item in items]
    if order == "reversed":
        typed = [dict(reversed(item.items())) for item in typed]
    page = {"Count": len(typed), "Items": typed, "ScannedCount": len(typed)}
    return json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()


def generic(columns: list[Column], body: bytes) -> list[tuple[list[str], dict[str, Any]]]:
    """The generic path: json.loads, decode_item, row_renderer."""
    render = row_renderer(columns)
    decoded = [decode_item(raw) for raw in json.loads(body)["Items"]]
    return [(render(item), item) for item in decoded]


def assert_same_as_generic(columns: list[Column], expr: Expr | None, *pages: bytes) -> None:
    reader = PartRows(columns, expr)
    wanted = item_attributes(expr)
    for body in pages:
        rows = list(reader.items(body))
        expected = generic(columns, body)
        assert [row.cells for row in rows] == [cells for cells, _ in expected]
        assert [dict(row) for row in rows] == [
            {key: value for key, value in item.items() if key in wanted} for _, item in expected
        ]
        assert all(isinstance(row, ProductRow) for row in rows)


# --- every DynamoDB type, by hand -------------------------------------------------------------
TEMPLATE_COLUMNS = [
    Column("template:t:text", ("extensions", "t", "text")),
    Column("template:t:int", ("extensions", "t", "int")),
    Column("template:t:dec", ("extensions", "t", "dec")),
    Column("template:t:exp", ("extensions", "t", "exp")),
    Column("template:t:zero", ("extensions", "t", "zero")),
    Column("template:t:yes", ("extensions", "t", "yes")),
    Column("template:t:no", ("extensions", "t", "no")),
    Column("template:t:null", ("extensions", "t", "null")),
    Column("template:t:list", ("extensions", "t", "list")),
    Column("template:t:map", ("extensions", "t", "map")),
    Column("template:t:missing", ("extensions", "t", "missing")),
    Column("template:u:x", ("extensions", "u", "x")),
    Column("template:t:created_at", ("extension_times", "t", "created_at")),
    Column("shopper_attributes.fit", ("shopper_attributes", "fit")),
    Column('admin_attributes.a "quoted" \\ key', ("admin_attributes", 'a "quoted" \\ key')),
    Column("admin_attributes.tab\tkey", ("admin_attributes", "tab\tkey")),
    Column("admin_attributes.plain", ("admin_attributes", "plain")),
]


def typed_product(number: int) -> dict[str, Any]:
    return {
        "pk": "s#01",
        "sk": f"id-{number}",
        "id": f"id-{number}",
        "name": f'Größe {number}, "quoted"\r\nline two ✓ 登山靴 🚀',
        "status": "live",
        "tags": ["a", "b,c"],
        "product_types": ["standard"],
        "created_at": "2024-01-05T13:46:42.070Z",
        "extensions": {
            "t": {
                "text": "x",
                "int": 42,
                "dec": Decimal("4.50"),
                "exp": Decimal("1E+2"),
                "zero": Decimal("-0"),
                "yes": True,
                "no": False,
                "null": None,
                "list": ["a", 1, Decimal("2.50"), True, None, {"k": "v"}, ["n"]],
                "map": {"k": Decimal("1")},
            },
            "u": "not a map",
        },
        "extension_times": {"t": {"created_at": "2024-01-05T13:46:42.070Z"}},
        "shopper_attributes": {"fit": "narrow"},
        "admin_attributes": {'a "quoted" \\ key': "=cost", "tab\tkey": "t", "plain": "p"},
    }


def test_every_dynamodb_type_renders_as_the_generic_path_renders_it() -> None:
    columns = [*BASE, *TEMPLATE_COLUMNS]
    odd = {"id": "odd", "sk": "odd", "name": Decimal("7"), "tags": {"only"}, "upc_ean": {Decimal("3")}}
    odd |= {"mpn": True, "sku": None, "slug": {"m": ["x"]}, "status": ["live"], "extensions": "text"}
    bare = {"id": "bare", "sk": "bare"}  # every column missing
    body = body_of([typed_product(1), odd, bare, typed_product(2)])
    assert_same_as_generic(columns, None, body)
    assert_same_as_generic(columns, parse_filter("eq(extensions.t.int,42)"), body)
    rows = list(PartRows(columns, None).items(body))
    cells = dict(zip([c.header for c in columns], rows[0].cells, strict=True))
    assert cells["template:t:int"] == "42" and cells["template:t:exp"] == "100"
    assert cells["template:t:dec"] == "4.5" and cells["template:t:yes"] == "true"
    assert cells["template:t:null"] == "" and cells["template:u:x"] == ""
    assert cells["tags"] == "a,b,c" and cells['admin_attributes.a "quoted" \\ key'] == "=cost"
    assert cells["name"] == 'Größe 1, "quoted"\r\nline two ✓ 登山靴 🚀'


def test_string_and_number_sets_and_binary_render_as_the_generic_path_renders_them() -> None:
    columns = [Column("tags", ("tags",)), Column("mpn", ("mpn",)), Column("sku", ("sku",))]
    raw = {"sk": {"S": "1"}, "tags": {"SS": ["x"]}, "mpn": {"NS": ["4.0"]}, "sku": {"B": "AAE="}}
    body = json.dumps({"Items": [raw]}).encode()
    assert_same_as_generic(columns, None, body)


def test_field_order_learnt_from_the_first_page_does_not_change_later_pages() -> None:
    columns = [*BASE, *TEMPLATE_COLUMNS]
    reader = PartRows(columns, None)
    first, later = body_of([typed_product(1)]), body_of([typed_product(2)], order="reversed")
    assert [r.cells for r in reader.items(first)] == [generic(columns, first)[0][0]]
    assert [r.cells for r in reader.items(later)] == [generic(columns, later)[0][0]]
    assert list(PartRows(columns, None).items(b'{"Count":0,"Items":[],"ScannedCount":3}')) == []


def test_projection_reads_only_the_columns_and_the_attributes_matching_products_decides_on() -> None:
    columns = build_columns([], store_id="s", use_template_slugs=True, include=["description"])
    reader = PartRows(columns, parse_filter("eq(extensions.shoes.size,42):gt(updated_at,2024-01-01)"))
    assert reader.attributes == {
        *("id", "name", "sku", "external_ref", "commodity_type", "description"),
        *("sk", "product_types", "extensions", "updated_at"),
    }
    assert item_attributes(None) == {"sk", "product_types"}


def test_the_row_function_source_holds_no_user_text() -> None:
    evil = "x'), __import__('os').system('echo pwned'), ('"
    columns = [*BASE, Column("admin_attributes.evil", ("admin_attributes", evil))]
    item = {"id": "1", "sk": "1", "admin_attributes": {evil: "kept as data"}}
    rows = list(PartRows(columns, None).items(body_of([item])))
    assert rows[0].cells[-1] == "kept as data"


# --- generated products --------------------------------------------------------------------
texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)
keys = st.one_of(st.sampled_from(["size", "colour", 'q"k', "b\\s", "c\x01", "é"]), texts)
numbers = st.one_of(
    st.integers(-(10**20), 10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6),
)
leaves = st.one_of(texts, numbers, st.booleans(), st.none())
values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=6,
)
maps = st.dictionaries(keys, values, max_size=3)
products = st.fixed_dictionaries(
    {"sk": texts},
    optional={
        **{attribute: st.one_of(texts, values) for _, attribute in BASE_COLUMNS},
        "product_types": st.one_of(st.just(["standard"]), st.just(["bundle"]), values),
        "extensions": st.one_of(st.dictionaries(keys, maps, max_size=2), values),
        "extension_times": st.dictionaries(keys, st.fixed_dictionaries({"created_at": texts}), max_size=2),
        "shopper_attributes": st.one_of(st.dictionaries(keys, texts, max_size=3), values),
        "admin_attributes": maps,
    },
)


def columns_for(sample: list[dict[str, Any]], extra: list[tuple[str, ...]]) -> list[Column]:
    """The base columns, a column for every map member the products hold, and some for nothing."""
    paths: dict[tuple[str, ...], None] = {}
    for item in sample:
        for slug, fields in _members(item.get("extensions")):
            paths.update({("extensions", slug, field): None for field, _ in _members(fields)})
            paths[("extension_times", slug, "created_at")] = None
        for attribute in ("shopper_attributes", "admin_attributes"):
            paths.update({(attribute, key): None for key, _ in _members(item.get(attribute))})
    paths.update(dict.fromkeys(extra))
    return [*BASE, *(Column(".".join(path), path) for path in paths)]


def _members(value: Any) -> list[tuple[str, Any]]:
    return list(value.items()) if isinstance(value, dict) else []


@SETTINGS
@given(
    st.lists(products, min_size=1, max_size=4),
    st.lists(st.lists(keys, min_size=1, max_size=3).map(tuple), max_size=2),
    st.one_of(st.none(), exprs),
)
def test_generated_products_read_as_the_generic_path_reads_them(
    sample: list[dict[str, Any]], extra: list[tuple[str, ...]], expr: Expr | None
) -> None:
    columns = columns_for(sample, [("extensions", *path) for path in extra])
    half = len(sample) // 2
    assert_same_as_generic(
        columns, expr, body_of(sample[:half] or sample), body_of(sample[half:], order="reversed")
    )


def _storable(item: dict[str, Any]) -> dict[str, Any]:
    """A filter-test item as the table stores it (no floats, no empty sk)."""
    stored = {key: value for key, value in item.items() if value is not None}
    if "extensions" in stored:
        stored["extensions"] = {
            slug: {name: to_stored_number(value) for name, value in fields.items()}
            for slug, fields in stored["extensions"].items()
        }
    return {**stored, "sk": "k"}


@SETTINGS
@given(exprs, st.lists(filter_items, min_size=1, max_size=3))
def test_the_filter_decides_the_same_on_fast_rows_as_on_decoded_products(
    expr: Expr, sample: list[dict[str, Any]]
) -> None:
    stored = [_storable(item) for item in sample]
    columns = columns_for(stored, [])
    rows = PartRows(columns, expr).items(body_of(stored))
    decoded = [item for _, item in generic(columns, body_of(stored))]
    match = compile_matcher(expr)
    assert [match(row) for row in rows] == [matches(expr, item) for item in decoded]


@SETTINGS
@given(st.one_of(st.none(), exprs), filter_items)
def test_compiled_matcher_is_the_evaluator(expr: Expr | None, item: dict[str, Any]) -> None:
    assert compile_matcher(expr)(item) == matches(expr, item)


# --- the typed page decoding and the hook ----------------------------------------------------
@SETTINGS
@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=5), max_size=4))
def test_decode_page_is_decode_item_on_each_item(sample: list[dict[str, Any]]) -> None:
    body = json.dumps({"Items": [encode_item(item) for item in sample], "Count": len(sample)}).encode()
    assert decode_page(body) == [decode_item(raw) for raw in json.loads(body)["Items"]]


def test_to_python_decodes_every_type_and_refuses_an_unknown_one() -> None:
    typed = {
        "M": {
            "s": {"S": ""},
            "n": {"N": "-1.50"},
            "t": {"BOOL": False},
            "z": {"NULL": True},
            "l": {"L": [{"S": "x"}, {"N": "1"}]},
            "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2.5"]},
            "b": {"B": "AAE="},
        }
    }
    value = msgspec.json.decode(json.dumps(typed), type=AttributeValue)
    assert to_python(value) == decode_item({"v": typed})["v"]
    with pytest.raises(ValueError, match="unknown DynamoDB type"):
        to_python(msgspec.json.decode(b'{"BS":["AAE="]}', type=AttributeValue))


def test_the_hook_hands_the_body_on_and_botocore_only_the_rest() -> None:
    body = (
        b'{"Count":1,"Items":[{"sk":{"S":"a\\"b"}}],"LastEvaluatedKey":{"pk":{"S":"s#01"},"sk":{"S":"a"}},'
        b'"ScannedCount":7,"ConsumedCapacity":{"TableName":"t","CapacityUnits":0.5}}'
    )
    response: dict[str, Any] = {"status_code": 200, "body": body}
    custom: dict[str, Any] = {}
    _set_body_aside(response_dict=response, customized_response_dict=custom)
    assert custom[RAW_BODY] is body
    assert json.loads(response["body"]) == {
        "Count": 1,
        "ScannedCount": 7,
        "LastEvaluatedKey": {"pk": {"S": "s#01"}, "sk": {"S": "a"}},
        "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5},
    }
    last_page: dict[str, Any] = {"status_code": 200, "body": b'{"Count":0,"Items":[],"ScannedCount":0}'}
    _set_body_aside(response_dict=last_page, customized_response_dict={})
    assert json.loads(last_page["body"]) == {"Count": 0, "ScannedCount": 0}
    error = {"status_code": 400, "body": b'{"__type":"ValidationException"}'}
    kept: dict[str, Any] = {}
    _set_body_aside(response_dict=error, customized_response_dict=kept)
    assert kept == {} and error["body"] == b'{"__type":"ValidationException"}'


def test_a_page_reader_decodes_each_body_once_and_botocore_gets_the_rest_from_it() -> None:
    columns = [*BASE, *TEMPLATE_COLUMNS]
    body = body_of([typed_product(1), typed_product(2)])[:-1] + (
        b',"LastEvaluatedKey":{"pk":{"S":"s#01"},"sk":{"S":"k2"}},"ConsumedCapacity":{"CapacityUnits":1.5}}'
    )
    reader = PartRows(columns, None)
    response: dict[str, Any] = {"status_code": 200, "body": body}
    custom: dict[str, Any] = {}
    with decoding_pages(reader.decode_page):
        _set_body_aside(response_dict=response, customized_response_dict=custom)
    assert RAW_BODY not in custom
    assert [row.cells for row in reader.rows(custom[DECODED_PAGE])] == [c for c, _ in generic(columns, body)]
    assert json.loads(response["body"]) == {
        "Count": 2,
        "ScannedCount": 2,
        "LastEvaluatedKey": {"pk": {"S": "s#01"}, "sk": {"S": "k2"}},
        "ConsumedCapacity": {"CapacityUnits": 1.5},
    }
    after: dict[str, Any] = {}  # outside the block, the body is handed on as before
    _set_body_aside(response_dict={"status_code": 200, "body": body}, customized_response_dict=after)
    assert after == {RAW_BODY: body}


# --- the CSV writer ------------------------------------------------------------------------
csv_cells = st.text(alphabet=st.sampled_from(',"\r\n a;\x00\té€😀'), max_size=6)


def csv_writer_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


@SETTINGS
@given(st.integers(1, 4).flatmap(lambda width: st.lists(st.lists(csv_cells, min_size=width, max_size=width))))
def test_csv_text_is_what_csv_writer_writes(rows: list[list[str]]) -> None:
    assert csv_text(rows) == csv_writer_text(rows)


@SETTINGS
@given(st.lists(st.fixed_dictionaries({"id": csv_cells, "name": csv_cells, "sku": csv_cells}), max_size=40))
def test_write_csv_is_csv_writer_whatever_the_batches(items: list[dict[str, Any]]) -> None:
    columns = [Column(header, (header,)) for header in ("id", 'na,"me', "sku")]
    sink = io.BytesIO()
    with pytest.MonkeyPatch.context() as patch:  # small batches and chunks
        patch.setattr(writer, "BATCH_ROWS", 3)
        patch.setattr(writer, "FLUSH_CHARS", 10)
        assert write_csv(
            columns, [{"id": i["id"], 'na,"me': i["name"], "sku": i["sku"]} for i in items], sink
        ) == len(items)
    rows = [[column.header for column in columns]] + [
        [item["id"], item["name"], item["sku"]] for item in items
    ]
    assert sink.getvalue() == csv_writer_text(rows).encode()


def test_csv_of_fast_rows_is_the_csv_of_decoded_products_in_bounded_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flush_chars, batch_rows = 20_000, 8
    monkeypatch.setattr(writer, "FLUSH_CHARS", flush_chars)
    monkeypatch.setattr(writer, "BATCH_ROWS", batch_rows)
    columns = [*BASE, *TEMPLATE_COLUMNS]
    sample = [typed_product(number) for number in range(1000)]
    body = body_of(sample)

    class Sink(io.BytesIO):
        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        def write(self, data: Any) -> int:
            self.sizes.append(len(data))
            return super().write(data)

    fast, slow = Sink(), Sink()
    assert write_csv(columns, PartRows(columns, None).items(body), fast) == 1000
    assert write_csv(columns, [item for _, item in generic(columns, body)], slow) == 1000
    assert fast.getvalue() == slow.getvalue()
    assert len(fast.sizes) > 10, "the part was handed on in several chunks"
    longest_row = max(len(line) for line in fast.getvalue().split(b"\r\n")) + 2
    # What waits reaches FLUSH_CHARS by at most one batch; 4 bytes at most a character.
    assert max(fast.sizes) <= 4 * flush_chars + batch_rows * longest_row
