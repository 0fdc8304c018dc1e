"""Catalogue use cases: what the products API does, free of HTTP and Lambda details."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from product_export.adapters.products_table import KeyRange, ProductsTable
from product_export.catalogue.models import SHARD_COUNT, ProductDocument
from product_export.catalogue.products import new_item, updated_item
from product_export.errors import Conflict
from product_export.filters import Expr, compile_dynamodb, matches


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int


class Catalogue:
    def __init__(self, table: ProductsTable) -> None:
        self.table = table

    def create(self, store_id: str, document: ProductDocument) -> dict[str, Any]:
        if document.data.id is not None:
            raise Conflict("Product ids are assigned by the server; omit data.id", source="/data/id")
        item = new_item(store_id, document.data)
        self.table.create(store_id, item)
        return item

    def get(self, store_id: str, product_id: str) -> dict[str, Any]:
        return self.table.get(store_id, product_id)

    def update(self, store_id: str, product_id: str, document: ProductDocument) -> dict[str, Any]:
        current = self.table.get(store_id, product_id)
        item = updated_item(store_id, current, document.data)
        self.table.replace(store_id, current, item)
        return item

    def delete(self, store_id: str, product_id: str) -> None:
        self.table.delete(store_id, self.table.get(store_id, product_id))

    def list_products(self, store_id: str, expr: Expr | None, *, offset: int, limit: int) -> Page:
        """One page of the store's matching products (id order within shards) and the total."""
        page: list[dict[str, Any]] = []
        total = 0
        for item in matching_products(self.table, store_id, expr, include_bundles=True):
            if offset <= total < offset + limit:
                page.append(item)
            total += 1
        return Page(page, total)


def matching_products(
    table: ProductsTable,
    store_id: str,
    expr: Expr | None,
    *,
    include_bundles: bool,
    ranges: list[KeyRange] | None = None,
    attributes: set[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every product of the store that matches ``expr``, in (shard, id) order.

    The one query path shared by the product list, the export planner and the part writers, so
    that all of them see exactly the same set for the same filter. DynamoDB applies a superset
    condition compiled from the filter; the evaluator here decides.
    """
    condition = compile_dynamodb(expr)
    for key_range in ranges if ranges is not None else [KeyRange(shard) for shard in range(SHARD_COUNT)]:
        for item in table.query(store_id, key_range, condition=condition, attributes=attributes):
            if not include_bundles and "bundle" in item.get("product_types", ()):
                continue
            if matches(expr, item):
                yield item
