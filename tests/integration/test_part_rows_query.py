"""The part writer's read path on the template's products table (moto): ``matching_products`` through
``ProductsTable.reading(PartRows(...))`` selects the same products and renders the same cells as the
generic path, for filters served by the table and by the updated-at index, and asks DynamoDB only
for the attributes it reads."""

from __future__ import annotations

from typing import Any

import pytest

from local.stack import EmbeddedStack
from product_export.adapters.aws import raw_items_dynamodb
from product_export.adapters.products_table import ProductsTable
from product_export.catalogue.models import ProductDocument
from product_export.catalogue.service import Catalogue, matching_products
from product_export.export.columns import build_columns, row_renderer
from product_export.export.rows import PartRows
from product_export.filters import parse_filter
from tests.support import product

STORE = "store-rows"


def _document(attributes: dict[str, Any]) -> ProductDocument:
    return ProductDocument.model_validate({"data": {"type": "product", "attributes": attributes}})


@pytest.fixture
def catalogue(stack: EmbeddedStack) -> list[dict[str, Any]]:
    products = Catalogue(ProductsTable(stack.refs["ProductsTable"]))
    created = [products.create(STORE, _document(product(number))) for number in range(1, 13)]
    odd = product(13, admin_attributes={'say "hi" \\ there': "=1+2", "cost": "3.50"}, tags=[])
    created.append(products.create(STORE, _document(odd)))
    bundle = product(14, status="live", components={"c": {"options": [{"id": created[0]["id"]}]}})
    created.append(products.create(STORE, _document(bundle)))
    return created


FILTERS = [
    None,
    "eq(status,live)",
    "like(name,Product 1*)",
    "eq(extensions.specs.size,3)",
    "eq(admin_attributes.cost,3.50)",
    "in(tags,tag1,tag2):eq(status,draft)",
    "gt(updated_at,2000-01-01)",  # read from the updated-at index
]


def test_fast_rows_are_the_generic_rows(stack: EmbeddedStack, catalogue: list[dict[str, Any]]) -> None:
    columns = build_columns(
        {entry for item in catalogue for entry in item["columns"]},
        store_id=STORE,
        use_template_slugs=False,
        include=None,
    )
    render = row_renderer(columns)
    table = ProductsTable(stack.refs["ProductsTable"])
    requests: list[dict[str, Any]] = []

    def spy(params: dict[str, Any], **_: Any) -> None:
        requests.append(dict(params))

    events = raw_items_dynamodb().meta.events
    for text in FILTERS:
        expr = parse_filter(text)
        reader = PartRows(columns, expr)
        requests.clear()
        events.register("provide-client-params.dynamodb.Query", spy)
        try:
            fast = list(matching_products(table.reading(reader), STORE, expr, include_bundles=False))
        finally:
            events.unregister("provide-client-params.dynamodb.Query", spy)
        generic = [render(item) for item in matching_products(table, STORE, expr, include_bundles=False)]

        assert [row.cells for row in fast] == generic, text
        assert len(generic) >= (1 if text else 13), text
        assert requests, text
        for request in requests:
            names = request["ExpressionAttributeNames"]
            projected = {names[name.strip()] for name in request["ProjectionExpression"].split(",")}
            assert projected == reader.attributes, text
