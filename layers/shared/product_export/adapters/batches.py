"""BatchWriteItem in groups of 25, retrying what DynamoDB leaves unprocessed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

BATCH_SIZE = 25


def put_all(dynamodb: Any, table: str, items: Iterable[dict[str, Any]]) -> None:
    """Write already-encoded items (DynamoDB JSON) to ``table``, unconditionally."""
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == BATCH_SIZE:
            _write(dynamodb, table, batch)
            batch = []
    if batch:
        _write(dynamodb, table, batch)


def _write(dynamodb: Any, table: str, requests: list[dict[str, Any]]) -> None:
    pending: dict[str, Any] = {table: requests}
    while pending:
        pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
