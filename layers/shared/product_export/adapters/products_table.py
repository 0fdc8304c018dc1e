"""The products table: atomic writes with uniqueness guards, and streaming range queries."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from product_export.adapters.aws import (
    DECODED_PAGE,
    RAW_BODY,
    QueryPageRest,
    client,
    decoding_pages,
    raw_items_dynamodb,
)
from product_export.adapters.dynamo_json import decode_item, decode_page, encode_item, encode_value
from product_export.catalogue.models import UNIQUE_FIELDS, shard_key, shard_of
from product_export.errors import Conflict, NotFound, Unprocessable
from product_export.filters import Condition

# DynamoDB's answers (ValidationException) for an item over its limits; the message says which.
_ITEM_LIMITS = (
    "Item size has exceeded",
    "Item size to update has exceeded",
    "Nesting Levels have exceeded",
    "significant digits",  # a number of more than 38 digits
    "Number overflow",  # magnitude over 9.99e125
    "Number underflow",  # magnitude under 1e-130
)


# template.yaml ProductsTable: pk = the shard partition, sort key updated_at, every attribute projected.
UPDATED_AT_INDEX = "updated-at"
# template.yaml ProductsTable: pk = the shard partition, sort key id (= sk, the product id; guard items
# have none), projecting only these attributes besides the keys (export planning).
PLANNING_INDEX = "plan-keys"
PLANNING_INDEX_ATTRIBUTES = frozenset(
    {"pk", "sk", "id", "created_at", "product_types", "columns", "status", "commodity_type"}
)
# The attribute holding the product id in each key schema the id-ordered queries read.
_ID_KEY = {None: "sk", PLANNING_INDEX: "id"}


@dataclass(frozen=True)
class KeyRange:
    """Inclusive range of product ids inside one shard (None = open end)."""

    shard: int
    first: str | None = None
    last: str | None = None


def _guard_key(store_id: str, field: str, value: str) -> dict[str, Any]:
    # Hashing keeps the key short whatever the value (external_ref may be 2 KB) and its own partition.
    digest = hashlib.sha256(value.encode()).hexdigest()
    return {"pk": {"S": f"{store_id}#unique#{field}#{digest}"}, "sk": {"S": "unique"}}


class PageReader(Protocol):
    """Turns Query pages into the items a query yields, instead of decoded products (the part
    writer reads its rows straight from the response bodies, see export/rows.py)."""

    @property
    def attributes(self) -> frozenset[str]:
        """The top-level attributes it reads: the query projects them and no others."""

    def decode_page(self, body: bytes) -> QueryPageRest:
        """One Query response body decoded, its items included (see ``aws.decoding_pages``)."""

    def rows(self, page: Any) -> Iterable[Any]:
        """The items of a page ``decode_page`` gave, in order."""


class ProductsTable:
    reader: PageReader | None = None  # None: queries yield decoded products (dicts)

    def __init__(self, table_name: str) -> None:
        self.table = table_name
        self.dynamodb = client("dynamodb")

    # --- single products ---------------------------------------------------------------------
    def get(self, store_id: str, product_id: str) -> dict[str, Any]:
        response = self.dynamodb.get_item(
            TableName=self.table,
            Key={"pk": {"S": shard_key(store_id, shard_of(product_id))}, "sk": {"S": product_id}},
            ConsistentRead=True,
        )
        if "Item" not in response:
            raise NotFound(f"Product {product_id} not found")
        return decode_item(response["Item"])

    def create(self, store_id: str, item: dict[str, Any]) -> None:
        actions = [self._put(item, "attribute_not_exists(pk)")]
        actions += [
            self._claim(store_id, field, item[field], item["id"])
            for field in UNIQUE_FIELDS
            if item.get(field)
        ]
        self._transact(actions, [None] + [f for f in UNIQUE_FIELDS if item.get(f)])

    def replace(self, store_id: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Write ``new`` if the stored product is still ``old`` (optimistic version check)."""
        actions = [self._put(new, "version = :version", {":version": encode_value(old["version"])})]
        labels: list[str | None] = [None]
        for field in UNIQUE_FIELDS:
            if old.get(field) == new.get(field):
                continue
            if new.get(field):
                actions.append(self._claim(store_id, field, new[field], new["id"]))
                labels.append(field)
            if old.get(field):
                actions.append(self._release(store_id, field, old[field], old["id"]))
                labels.append(None)
        self._transact(actions, labels)

    def delete(self, store_id: str, item: dict[str, Any]) -> None:
        actions = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
                    "ConditionExpression": "version = :version",
                    "ExpressionAttributeValues": {":version": encode_value(item["version"])},
                }
            }
        ]
        actions += [self._release(store_id, f, item[f], item["id"]) for f in UNIQUE_FIELDS if item.get(f)]
        self._transact(actions, [None] * len(actions))

    def _put(
        self, item: dict[str, Any], condition: str, values: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": encode_item(item),
            "ConditionExpression": condition,
        }
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def _claim(self, store_id: str, field: str, value: str, product_id: str) -> dict[str, Any]:
        key = _guard_key(store_id, field, value)
        return {
            "Put": {
                "TableName": self.table,
                "Item": {**key, "product_id": {"S": product_id}},
                "ConditionExpression": "attribute_not_exists(pk) OR product_id = :id",
                "ExpressionAttributeValues": {":id": {"S": product_id}},
            }
        }

    def _release(self, store_id: str, field: str, value: str, product_id: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self.table,
                "Key": _guard_key(store_id, field, value),
                "ConditionExpression": "attribute_not_exists(pk) OR product_id = :id",
                "ExpressionAttributeValues": {":id": {"S": product_id}},
            }
        }

    def _transact(self, actions: list[dict[str, Any]], labels: Sequence[str | None]) -> None:
        try:
            self.dynamodb.transact_write_items(TransactItems=actions)
        except ClientError as error:
            message = str(error.response["Error"].get("Message", ""))
            if error.response["Error"]["Code"] == "ValidationException" and any(
                limit in message for limit in _ITEM_LIMITS
            ):
                # The product itself is unstorable (over 400 KB, nested deeper than 32 levels, or
                # holding a number DynamoDB cannot represent).
                raise Unprocessable(
                    f"The product cannot be stored: {message}", source="/data/attributes"
                ) from error
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            for label, reason in zip(labels, reasons, strict=False):
                if reason.get("Code") == "ConditionalCheckFailed" and label:
                    raise Conflict(
                        f"A product with this {label} already exists", source=f"/data/attributes/{label}"
                    ) from error
            raise Conflict("The product was changed by another request; retry") from error

    @staticmethod
    def encoded_for_load(store_id: str, items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """New products as typed items for a bulk write, each followed by its uniqueness guards.

        For loading a fresh catalogue whose sku and external_ref values the caller knows to be
        unique (the local demo's seeding); API writes go through ``create``, which checks them.
        """
        for item in items:
            yield encode_item(item)
            for field in UNIQUE_FIELDS:
                if item.get(field):
                    yield {**_guard_key(store_id, field, item[field]), "product_id": {"S": item["id"]}}

    # --- streaming reads ----------------------------------------------------------------------
    def reading(self, reader: PageReader) -> ProductsTable:
        """This table with its queries yielding what ``reader`` makes of each page, projected to
        the attributes it reads (plus any a query asks for)."""
        view = copy.copy(self)
        view.reader = reader
        return view

    def query(
        self,
        store_id: str,
        key_range: KeyRange,
        *,
        condition: Condition | None = None,
        attributes: Iterable[str] | None = None,
        page_size: int | None = None,
        index: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the decoded items of one shard range, in id order, one page in memory at a time:
        from the table, or from ``index`` when it is ordered by product id too (``PLANNING_INDEX``)."""
        names: dict[str, str] = {"#pk": "pk"}
        values: dict[str, Any] = {":pk": {"S": shard_key(store_id, key_range.shard)}}
        key_condition = "#pk = :pk"
        if key_range.first is not None and key_range.last is not None:
            key_condition += " AND #sk BETWEEN :first AND :last"
            values[":first"] = {"S": key_range.first}
            values[":last"] = {"S": key_range.last}
        elif key_range.first is not None:
            key_condition += " AND #sk >= :first"
            values[":first"] = {"S": key_range.first}
        elif key_range.last is not None:
            key_condition += " AND #sk <= :last"
            values[":last"] = {"S": key_range.last}
        if key_range.first is not None or key_range.last is not None:
            names["#sk"] = _ID_KEY[index]
        request: dict[str, Any] = {"TableName": self.table}
        if index is not None:
            request["IndexName"] = index
        yield from self._stream(
            request,
            key_condition,
            names,
            values,
            condition=condition,
            attributes=attributes,
            page_size=page_size,
        )

    def query_updated(
        self,
        store_id: str,
        shard: int,
        *,
        low: str,
        high: str | None = None,
        condition: Condition | None = None,
        attributes: Iterable[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield one shard's products with ``low <= updated_at <= high`` from the updated-at index,
        in updated_at order (order among equal times unspecified), one page in memory at a time.

        ``condition`` must not name ``updated_at``: DynamoDB refuses index keys in a FilterExpression.
        """
        names = {"#pk": "pk", "#u": "updated_at"}
        values: dict[str, Any] = {":pk": {"S": shard_key(store_id, shard)}, ":low": {"S": low}}
        key_condition = "#pk = :pk AND #u >= :low"
        if high is not None:
            key_condition = "#pk = :pk AND #u BETWEEN :low AND :high"
            values[":high"] = {"S": high}
        projected = None if attributes is None else {*attributes, "updated_at"}
        request = {"TableName": self.table, "IndexName": UPDATED_AT_INDEX}
        yield from self._stream(
            request, key_condition, names, values, condition=condition, attributes=projected
        )

    def _stream(
        self,
        request: dict[str, Any],
        key_condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        *,
        condition: Condition | None,
        attributes: Iterable[str] | None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        request["KeyConditionExpression"] = key_condition
        if condition is not None:
            names.update(condition.names)
            values.update({name: {"S": value} for name, value in condition.values.items()})
            request["FilterExpression"] = condition.expression
        if self.reader is not None:
            attributes = self.reader.attributes | set(attributes or ())
        if attributes is not None:
            projected = []
            for index, attribute in enumerate(sorted(set(attributes) | {"sk"})):
                placeholder = f"#p{index}"
                names[placeholder] = attribute
                projected.append(placeholder)
            request["ProjectionExpression"] = ", ".join(projected)
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values
        if page_size:
            request["Limit"] = page_size
        reader = self.reader
        dynamodb = raw_items_dynamodb()
        while True:
            if reader is None:
                page = dynamodb.query(**request)
                yield from decode_page(page[RAW_BODY])
            else:
                with decoding_pages(reader.decode_page):
                    page = dynamodb.query(**request)
                # Popped: the page's structs go once its rows are taken, not after the next page.
                yield from reader.rows(page.pop(DECODED_PAGE))
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last
