"""The hand-written DynamoDB JSON encoder writes what boto3's TypeSerializer writes, and round-trips."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from product_export.adapters.dynamo_json import decode_item, encode_item, encode_value

numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9),
)
scalars = st.one_of(st.text(), st.booleans(), st.none(), numbers)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _canonical(typed: Any) -> Any:
    """Typed JSON with sets' member order made irrelevant."""
    if isinstance(typed, dict):
        return {
            key: sorted(inner) if key in ("SS", "NS") else _canonical(inner) for key, inner in typed.items()
        }
    if isinstance(typed, list):
        return [_canonical(inner) for inner in typed]
    return typed


@given(values)
def test_values_are_encoded_as_boto3_encodes_them(value: Any) -> None:
    assert encode_value(value) == TypeSerializer().serialize(value)


@given(st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=6))
def test_items_round_trip_without_their_none_attributes(item: dict[str, Any]) -> None:
    decoded = decode_item(encode_item(item))
    assert decoded == {key: value for key, value in item.items() if value is not None}


@pytest.mark.parametrize("value", [{"a", "b"}, {Decimal("1.5"), 2}, frozenset({"x"}), b"\x00\xff", ("t", 1)])
def test_sets_bytes_and_tuples(value: Any) -> None:
    assert _canonical(encode_value(value)) == _canonical(TypeSerializer().serialize(value))


@pytest.mark.parametrize("value", [1.5, Decimal("NaN"), Decimal("Infinity"), set(), object()])
def test_values_dynamodb_cannot_hold_exactly_are_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        encode_value(value)
