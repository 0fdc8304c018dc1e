"""The planner's part cutting: full parts, ranges per shard, exactly-once coverage."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from product_export.adapters.products_table import KeyRange
from product_export.export.overflow import runs
from product_export.export.planner import (
    SHARDS_PER_PLANNER,
    PartPlan,
    PartRange,
    ShardCut,
    combine_shards,
    cover_key_space,
    cut_parts,
    cut_shard,
    in_snapshot,
    shard_groups,
)
from product_export.filters import matches, parse_filter


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


def _holders(parts: list[PartPlan], shard: int, product_id: str) -> list[PartPlan]:
    return [
        p
        for p in parts
        for r in p.ranges
        if r.shard == shard and r.first is not None and r.last is not None and r.first <= product_id <= r.last
    ]


def _by_shard(ids: dict[int, list[str]], size: int) -> list[PartPlan]:
    """What the shard-group planners and CombinePlan make of these shards' ids."""
    return combine_shards([cut_shard(shard, iter(shard_ids), size) for shard, shard_ids in ids.items()], size)


def test_shards_give_full_one_shard_parts_then_the_remainders() -> None:
    ids = {0: ["a", "b", "c", "d", "e"], 1: ["a"], 2: [], 3: ["b", "c", "f", "g"]}
    parts = _by_shard(ids, 3)
    assert [(p.number, p.products, p.ranges) for p in parts] == [
        (1, 3, [KeyRange(0, "a", "c")]),
        (2, 3, [KeyRange(3, "b", "f")]),
        (3, 3, [KeyRange(0, "d", "e"), KeyRange(1, "a", "a")]),
        (4, 1, [KeyRange(3, "g", "g")]),
    ]


def test_full_parts_take_the_shards_in_turn_so_writers_started_together_read_different_shards() -> None:
    full = {0: ["a", "b", "c"], 1: ["d"], 2: ["e", "f"]}
    cuts = [ShardCut(shard, 2, [KeyRange(shard, i, i) for i in ids], ["z"]) for shard, ids in full.items()]
    parts = combine_shards(cuts, 2)
    assert [(p.number, p.ranges[0].shard, p.ranges[0].first) for p in parts[:6]] == [
        (1, 0, "a"),
        (2, 1, "d"),
        (3, 2, "e"),
        (4, 0, "b"),
        (5, 2, "f"),
        (6, 0, "c"),
    ]
    assert [(p.number, p.products) for p in parts[6:]] == [(7, 2), (8, 1)]  # the remainders


def test_shard_groups_cover_every_shard_once_in_order() -> None:
    assert shard_groups(64, 2) == [[n, n + 1] for n in range(0, 64, 2)]
    assert shard_groups(5, 2) == [[0, 1], [2, 3], [4]]
    assert [shard for group in shard_groups() for shard in group] == list(range(64))
    assert all(len(group) == SHARDS_PER_PLANNER for group in shard_groups())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 15), st.uuids().map(str)), unique=True, max_size=300),
    st.integers(1, 17),
)
def test_by_shard_every_key_in_exactly_one_part_and_all_but_last_full(
    keys: list[tuple[int, str]], size: int
) -> None:
    by_shard: dict[int, list[str]] = {shard: [] for shard in range(16)}
    for shard, product_id in sorted(keys):
        by_shard[shard].append(product_id)
    parts = _by_shard(by_shard, size)
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    assert all(p.products == size for p in parts[:-1])
    assert len(parts) == -(-len(keys) // size)
    assert sum(p.products for p in parts) == len(keys)
    for shard, product_id in keys:
        assert len(_holders(parts, shard, product_id)) == 1
    for part in parts:  # a part's count is what its ranges hold
        held = sum(
            1
            for shard, product_id in keys
            for r in part.ranges
            if r.shard == shard and r.first <= product_id <= r.last
        )  # type: ignore[operator]
        assert held == part.products


def _holders(parts: list[PartPlan], shard: int, product_id: str) -> list[int]:
    """The parts whose widened ranges (as the part writer reads them) hold the id."""
    found = []
    for part in parts:
        for r in part.ranges:
            inside = (r.first is None or r.first <= product_id) and (r.last is None or product_id <= r.last)
            if r.shard == shard and inside and list(part.without_edges([{"sk": product_id}])):
                found.append(part.number)
    return found


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 15), st.uuids().map(str)), unique=True, max_size=120),
    st.integers(1, 9),
    st.lists(st.tuples(st.integers(0, 15), st.uuids().map(str)), max_size=30),
)
def test_widened_parts_hold_every_id_of_every_shard_once(
    keys: list[tuple[int, str]], size: int, others: list[tuple[int, str]]
) -> None:
    """Every id a shard may hold — the planned ones and any the planner did not see — is in
    exactly one widened part; the planned ones stay in the part that counted them."""
    keys.sort()
    planned = list(cut_parts(keys, size))
    widened = _through_the_workflow(cover_key_space(planned, range(16)))
    assert [(p.number, p.products) for p in widened] == [(p.number, p.products) for p in planned]
    for shard, product_id in keys:
        counted = [
            p.number
            for p in planned
            for r in p.ranges
            if r.shard == shard and (r.first or "") <= product_id <= (r.last or "")
        ]
        assert _holders(widened, shard, product_id) == counted
    for shard, product_id in others:
        assert len(_holders(widened, shard, product_id)) == (1 if planned else 0)


def _through_the_workflow(parts: list[PartPlan]) -> list[PartPlan]:
    """What the part writers get: the plan as JSON, through the workflow."""
    return [PartPlan.from_json(json.loads(json.dumps(part.to_json()))) for part in parts]


def test_widened_ranges_meet_at_the_planned_edges() -> None:
    parts = list(cut_parts([(0, "a"), (0, "c"), (0, "e"), (2, "b")], 2))
    widened = cover_key_space(parts, range(3))
    assert widened[0].ranges == [KeyRange(0, None, "c")]
    assert widened[1].ranges == [PartRange(0, "c", None, after=True), KeyRange(1), KeyRange(2)]
    assert widened[1].to_json()["ranges"][0] == {"shard": 0, "first": "c", "last": None, "after": True}
    assert cover_key_space([], range(16)) == []


def test_snapshot_limits_the_filter_to_products_created_by_then() -> None:
    early = {"created_at": "2024-01-05T13:46:42.070Z", "status": "live"}
    late = {"created_at": "2024-01-05T13:46:42.071Z", "status": "live"}
    expr = in_snapshot(parse_filter("eq(status,live)"), "2024-01-05T13:46:42.070Z")
    assert matches(expr, early) and not matches(expr, late)
    assert in_snapshot(None, None) is None
    assert matches(in_snapshot(None, "2024-01-05T13:46:42.070Z"), early)


def test_runs_cut_rows_into_files_of_at_most_the_part_size() -> None:
    assert [list(run) for run in runs(range(7), 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [list(run) for run in runs(range(6), 3)] == [[0, 1, 2], [3, 4, 5]]
    assert [list(run) for run in runs([], 3)] == [[]], "a part always has its file, perhaps empty"
