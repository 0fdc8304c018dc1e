"""The planner's part cutting: full parts, ranges per shard, exactly-once coverage."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from product_export.adapters.products_table import KeyRange
from product_export.export.planner import PartPlan, cut_parts


def test_no_keys_no_parts() -> None:
    assert list(cut_parts([], 5)) == []


def test_parts_span_shards_with_one_range_per_shard() -> None:
    keys = [(0, "a"), (0, "c"), (1, "b"), (3, "a"), (3, "d")]
    parts = list(cut_parts(keys, 3))
    assert [p.products for p in parts] == [3, 2]
    assert parts[0].ranges == [KeyRange(0, "a", "c"), KeyRange(1, "b", "b")]
    assert parts[1].ranges == [KeyRange(3, "a", "d")]
    assert [p.number for p in parts] == [1, 2]


def test_descriptor_round_trips_through_json() -> None:
    part = PartPlan(7, [KeyRange(2, "x", "y")], 12)
    assert PartPlan.from_json(part.to_json()) == part


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 15), st.uuids().map(str)), unique=True, max_size=200),
    st.integers(1, 17),
)
def test_every_key_in_exactly_one_part_and_all_but_last_full(keys: list[tuple[int, str]], size: int) -> None:
    keys.sort()
    parts = list(cut_parts(keys, size))
    assert all(p.products == size for p in parts[:-1])
    assert sum(p.products for p in parts) == len(keys)
    for shard, product_id in keys:
        holders = [
            p
            for p in parts
            for r in p.ranges
            if r.shard == shard
            and r.first is not None
            and r.last is not None
            and r.first <= product_id <= r.last
        ]
        assert len(holders) == 1
