"""DynamoDB's typed JSON <-> Python values.

A hand-written decoder: boto3's TypeDeserializer costs a function dispatch per value, and the
part writer decodes every attribute of every exported product.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

_serializer = TypeSerializer()


def _decode(value: dict[str, Any]) -> Any:
    ((kind, raw),) = value.items()
    if kind == "S":
        return raw
    if kind == "N":
        return Decimal(raw)
    if kind == "M":
        return {key: _decode(inner) for key, inner in raw.items()}
    if kind == "L":
        return [_decode(inner) for inner in raw]
    if kind == "BOOL":
        return raw
    if kind == "NULL":
        return None
    if kind == "SS":
        return set(raw)
    if kind == "NS":
        return {Decimal(n) for n in raw}
    if kind == "B":
        return raw
    raise ValueError(f"unknown DynamoDB type {kind}")


def decode_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _decode(value) for key, value in item.items()}


def encode_value(value: Any) -> dict[str, Any]:
    encoded: dict[str, Any] = dict(_serializer.serialize(value))
    return encoded


def encode_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in item.items() if value is not None}
