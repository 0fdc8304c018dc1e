"""DynamoDB's typed JSON <-> Python values.

A hand-written decoder: boto3's TypeDeserializer costs a function dispatch per value, and the
part writer decodes every attribute of every exported product.

Query pages are decoded from their body bytes by msgspec into :class:`AttributeValue` structs
(``decode_page``), which is several times faster than ``json.loads`` into dicts and then walking
them: a struct per value instead of a dict, none of them tracked by the cyclic garbage collector
(whose passes over the tens of thousands of containers of a page cost more than the parsing).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec


class AttributeValue(msgspec.Struct, frozen=True, gc=False):
    """One value as DynamoDB's typed JSON holds it: ``{"S": "x"}`` has ``S == "x"`` and every other
    field None. ``gc=False`` is safe: values decoded from JSON form a tree, never a cycle."""

    S: str | None = None
    N: str | None = None
    BOOL: bool | None = None
    NULL: bool | None = None
    M: dict[str, AttributeValue] | None = None
    L: list[AttributeValue] | None = None
    SS: list[str] | None = None
    NS: list[str] | None = None
    B: str | None = None


def to_python(value: AttributeValue) -> Any:
    """The Python value of a typed value, exactly as :func:`decode_item` decodes its JSON."""
    if value.S is not None:
        return value.S
    if value.N is not None:
        return Decimal(value.N)
    if value.M is not None:
        return {key: to_python(inner) for key, inner in value.M.items()}
    if value.L is not None:
        return [to_python(inner) for inner in value.L]
    if value.BOOL is not None:
        return value.BOOL
    if value.NULL is not None:
        return None
    if value.SS is not None:
        return set(value.SS)
    if value.NS is not None:
        return {Decimal(n) for n in value.NS}
    if value.B is not None:
        return value.B
    raise ValueError(f"unknown DynamoDB type in {value!r}")


class _QueryItems(msgspec.Struct, gc=False):
    Items: list[dict[str, AttributeValue]] = msgspec.field(default_factory=list)


_query_items = msgspec.json.Decoder(_QueryItems)


def decode_page(body: bytes) -> list[dict[str, Any]]:
    """The items of a Query response body, each decoded as :func:`decode_item` decodes it."""
    return [
        {key: to_python(value) for key, value in item.items()} for item in _query_items.decode(body).Items
    ]


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
    """The typed JSON of ``value``, as boto3's TypeSerializer writes it (about six times faster).

    Numbers must be int or Decimal (a float would lose precision silently, so it is refused).
    """
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):  # before int: bool is an int
        return {"BOOL": value}
    if isinstance(value, int | Decimal):
        return {"N": _number(value)}
    if isinstance(value, dict):
        return {"M": {str(key): encode_value(inner) for key, inner in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [encode_value(inner) for inner in value]}
    if value is None:
        return {"NULL": True}
    if isinstance(value, set | frozenset) and value:
        if all(isinstance(member, str) for member in value):
            return {"SS": list(value)}
        if all(isinstance(member, int | Decimal) and not isinstance(member, bool) for member in value):
            return {"NS": [_number(member) for member in value]}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB: {value!r:.40}")


def _number(value: int | Decimal) -> str:
    if isinstance(value, Decimal) and not value.is_finite():
        raise TypeError(f"cannot store the number {value} in DynamoDB")
    return str(value)


def encode_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item's typed JSON; attributes whose value is None are left out rather than stored as NULL."""
    return {key: encode_value(value) for key, value in item.items() if value is not None}
