"""Catalogue use cases: what the products API does, free of HTTP and Lambda details."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from product_export.adapters.products_table import KeyRange, ProductsTable
from product_export.catalogue.models import SHARD_COUNT, ProductDocument
from product_export.catalogue.products import new_item, updated_item
from product_export.catalogue.read_ahead import read_ahead
from product_export.errors import Conflict
from product_export.filters import (
    Bounds,
    Expr,
    compile_dynamodb,
    compile_matcher,
    field_bounds,
    referenced_attributes,
)

UPDATED_AT = "updated_at"
# Key ranges read at once by one reader (a part writer, the product list): enough that a part
# spread thin over many shards is read in minutes, not hours, while each range holds at most a few
# hundred items ahead of the writer (catalogue/read_ahead.py).
RANGES_AT_ONCE = 8


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
        """One page of the store's matching products and the total: in id order within shards, or
        in update order for a filter bounding updated_at from below (see matching_products)."""
        page: list[dict[str, Any]] = []
        total = 0
        for item in matching_products(self.table, store_id, expr, include_bundles=True):
            if offset <= total < offset + limit:
                page.append(item)
            total += 1
        return Page(page, total)


@dataclass(frozen=True)
class UpdatedRange:
    """Products of one shard ordered by (updated_at, id): those after ``after`` (exclusive) up to
    ``upto`` (inclusive); None leaves that end to the updated_at window of the query."""

    shard: int
    after: tuple[str, str] | None = None
    upto: tuple[str, str] | None = None

    def holds(self, updated_at: str, product_id: str) -> bool:
        key = (updated_at, product_id)
        return (self.after is None or key > self.after) and (self.upto is None or key <= self.upto)


def updated_window(expr: Expr | None, cutover: str | None = None) -> Bounds | None:
    """The updated_at window to read from the updated-at index, or None to read the table.

    The index serves filters that bound updated_at from below (``gt``, ``ge``, ``eq``), so their cost
    follows the number of changed products. ``cutover`` caps the window: an export reads the changes
    up to its cut-over time only, so a product updated while it runs cannot move from one part's
    range into another's (it leaves the window and waits for the next delta export).
    """
    bounds = field_bounds(expr, UPDATED_AT)
    if bounds.low is None:
        return None
    highs = [high for high in (bounds.high, cutover) if high is not None]
    return Bounds(bounds.low, min(highs) if highs else None)


def item_attributes(expr: Expr | None) -> frozenset[str]:
    """The attributes of an item that :func:`matching_products` and its callers decide on: the key
    (``sk``, the product id), the bundle check, the filter, and ``updated_at`` when the updated-at
    index is read (the cut-over only caps that window, so it does not change whether there is one).
    A table read through a page reader (the part writer's, export/rows.py) decodes these."""
    ranges = {UPDATED_AT} if updated_window(expr) is not None else set()
    return frozenset({"sk", "product_types", *ranges}) | referenced_attributes(expr)


def matching_products(
    table: ProductsTable,
    store_id: str,
    expr: Expr | None,
    *,
    include_bundles: bool,
    ranges: Sequence[KeyRange] | Sequence[UpdatedRange] | None = None,
    attributes: set[str] | None = None,
    cutover: str | None = None,
    index: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Every product of the store that matches ``expr``: in (shard, id) order from the table (or
    from ``index``, one ordered by product id within a shard like the table), or, when the filter
    bounds updated_at from below, in (shard, updated_at) order from the updated-at index (then
    ``ranges`` are UpdatedRange and ``cutover`` caps updated_at, see updated_window).

    The one query path shared by the product list, the export planner and the part writers, so
    that all of them see exactly the same set for the same filter. DynamoDB applies a superset
    condition compiled from the filter; the evaluator here decides.
    """
    window = updated_window(expr, cutover)
    key_ranges = [r for r in ranges or () if isinstance(r, KeyRange)]
    items: Iterator[dict[str, Any]]
    if window is not None and not key_ranges:  # a plan made from the table stays on the table
        updated = None if ranges is None else [r for r in ranges if isinstance(r, UpdatedRange)]
        items = _from_updated_index(table, store_id, expr, window, ranges=updated, attributes=attributes)
    elif ranges and not key_ranges:
        raise ValueError("updated_at ranges need a filter that bounds updated_at from below")
    else:
        items = _from_table(
            table,
            store_id,
            expr,
            ranges=None if ranges is None else key_ranges,
            attributes=attributes,
            index=index,
        )
    match = compile_matcher(expr)
    for item in items:
        if not include_bundles and "bundle" in item.get("product_types", ()):
            continue
        if match(item):
            yield item


def _from_table(
    table: ProductsTable,
    store_id: str,
    expr: Expr | None,
    *,
    ranges: Sequence[KeyRange] | None,
    attributes: set[str] | None,
    index: str | None,
) -> Iterator[dict[str, Any]]:
    condition = compile_dynamodb(expr)

    def reading(key_range: KeyRange) -> Callable[[], Iterator[dict[str, Any]]]:
        return lambda: table.query(
            store_id, key_range, condition=condition, attributes=attributes, index=index
        )

    every = ranges if ranges is not None else [KeyRange(shard) for shard in range(SHARD_COUNT)]
    yield from read_ahead([reading(key_range) for key_range in every], at_once=RANGES_AT_ONCE)


def _from_updated_index(
    table: ProductsTable,
    store_id: str,
    expr: Expr | None,
    window: Bounds,
    *,
    ranges: Sequence[UpdatedRange] | None,
    attributes: set[str] | None,
) -> Iterator[dict[str, Any]]:
    assert window.low is not None
    condition = compile_dynamodb(expr, exclude=frozenset({UPDATED_AT}))
    for key_range in ranges if ranges is not None else [UpdatedRange(shard) for shard in range(SHARD_COUNT)]:
        # Read only the times this range spans; (time, id) decides at the equal-time edges.
        low = max(window.low, key_range.after[0]) if key_range.after else window.low
        highs = [h for h in (window.high, key_range.upto[0] if key_range.upto else None) if h is not None]
        high = min(highs) if highs else None
        if high is not None and low > high:
            continue
        for item in table.query_updated(
            store_id, key_range.shard, low=low, high=high, condition=condition, attributes=attributes
        ):
            if key_range.holds(item[UPDATED_AT], item["sk"]):
                yield item
