"""Delta export planning: the updated_at window a filter gives, the index's FilterExpression, and
parts cut as (updated_at, id) ranges that hold every product of the window exactly once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from product_export.catalogue.service import UpdatedRange, updated_window
from product_export.errors import BadRequest
from product_export.export.delta import (
    IndexPart,
    cut_index_parts,
    export_filter,
    in_key_order,
    is_index_part,
    validate_since,
)
from product_export.filters import Bounds, compile_dynamodb, field_bounds, format_filter, parse_filter
from product_export.jobs.models import Job

T1, T2, T3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        (f"gt(updated_at,{T1})", Bounds(T1, None)),
        (f"ge(updated_at,{T1}):lt(updated_at,{T3})", Bounds(T1, T3)),
        (f"gt(updated_at,{T1}):(eq(status,live):ge(updated_at,{T2}))", Bounds(T2, None)),
        (f"eq(updated_at,{T2})", Bounds(T2, T2)),
        (f"le(updated_at,{T2})", Bounds(None, T2)),
        (f"(gt(updated_at,{T1})|eq(status,live))", Bounds(None, None)),
        (f"gt(created_at,{T1})", Bounds(None, None)),
    ],
)
def test_field_bounds_come_from_top_level_and_terms(text: str, bounds: Bounds) -> None:
    assert field_bounds(parse_filter(text), "updated_at") == bounds


def test_the_index_serves_lower_bounds_capped_at_the_cutover() -> None:
    assert updated_window(parse_filter(f"gt(updated_at,{T1})"), T3) == Bounds(T1, T3)
    assert updated_window(parse_filter(f"gt(updated_at,{T1}):lt(updated_at,{T2})"), T3) == Bounds(T1, T2)
    assert updated_window(parse_filter(f"gt(updated_at,{T1})")) == Bounds(T1, None)
    assert updated_window(parse_filter(f"lt(updated_at,{T1})"), T3) is None, "no lower bound: the table"
    assert updated_window(None, T3) is None


def test_the_index_query_leaves_updated_at_to_the_evaluator() -> None:
    expr = parse_filter(f"gt(updated_at,{T1}):eq(status,live)")
    condition = compile_dynamodb(expr, exclude=frozenset({"updated_at"}))
    assert condition is not None and set(condition.names.values()) == {"status"}
    assert compile_dynamodb(parse_filter(f"gt(updated_at,{T1})"), exclude=frozenset({"updated_at"})) is None
    either = parse_filter(f"(gt(updated_at,{T1})|eq(status,live))")
    assert compile_dynamodb(either, exclude=frozenset({"updated_at"})) is None, "an OR half unknown: none"


def test_a_delta_export_filters_on_the_previous_cutover() -> None:
    job = Job(id="j", store_id="s", created_at=T1, updated_at=T1, filter="eq(status,live)")
    assert export_filter(job) == parse_filter("eq(status,live)")
    delta = job.model_copy(update={"updated_after": T2})
    assert format_filter(export_filter(delta)) == f"eq(status,live):gt(updated_at,{T2})"  # type: ignore[arg-type]
    bare = delta.model_copy(update={"filter": None})
    assert format_filter(export_filter(bare)) == f"gt(updated_at,{T2})"  # type: ignore[arg-type]


def test_since_accepts_only_last_success() -> None:
    assert validate_since(None) is None and validate_since("") is None
    assert validate_since("last-success") == "last-success"
    with pytest.raises(BadRequest):
        validate_since("2024-01-01")


def test_equal_times_are_ordered_by_id() -> None:
    keys = [(0, T1, "b"), (0, T1, "a"), (0, T2, "c"), (1, T1, "z"), (1, T1, "y")]
    assert list(in_key_order(keys)) == [(0, T1, "a"), (0, T1, "b"), (0, T2, "c"), (1, T1, "y"), (1, T1, "z")]


_TIMES = [f"2024-01-01T00:00:0{n}.000Z" for n in range(6)]
_keys = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(_TIMES[1:5]), st.sampled_from("abcdefgh")),
    unique_by=lambda key: (key[0], key[2]),
    max_size=40,
)


def _holders(parts: list[IndexPart], shard: int, time: str, product_id: str) -> list[int]:
    return [
        part.number for part in parts for r in part.ranges if r.shard == shard and r.holds(time, product_id)
    ]


@settings(max_examples=300, deadline=None)
@given(keys=_keys, part_size=st.integers(1, 7))
def test_parts_hold_each_product_once_wherever_it_moves_in_the_window(
    keys: list[tuple[int, str, str]], part_size: int
) -> None:
    ordered = list(in_key_order(sorted(keys, key=lambda k: (k[0], k[1]))))
    parts = list(cut_index_parts(ordered, part_size))
    assert [IndexPart.from_json(p.to_json()) for p in parts] == parts
    assert all(is_index_part(p.to_json()) for p in parts)
    assert sum(p.products for p in parts) == len(keys)
    assert all(0 < p.products <= part_size for p in parts)
    for shard, time, product_id in keys:
        assert len(_holders(parts, shard, time, product_id)) == 1
    for part in parts:  # each part holds exactly the products it counted
        held = [k for k in keys if any(r.shard == k[0] and r.holds(k[1], k[2]) for r in part.ranges)]
        assert len(held) == part.products
        assert len({r.shard for r in part.ranges}) == len(part.ranges)
    # A product of a shard seen by the planner that is found anywhere else in the window when the
    # parts are written (its updated_at changed) still falls in exactly one part.
    for shard in {k[0] for k in keys}:
        for time in _TIMES:
            for product_id in "0abcdefghz":
                assert len(_holders(parts, shard, time, product_id)) == 1


def test_a_shard_split_across_parts_continues_where_the_last_part_stopped() -> None:
    keys = [(0, T1, "a"), (0, T1, "b"), (0, T2, "c"), (1, T1, "d")]
    first, second = cut_index_parts(keys, 2)
    assert first.ranges == [UpdatedRange(0, None, (T1, "b"))]
    assert second.ranges == [UpdatedRange(0, (T1, "b"), None), UpdatedRange(1, None, None)]
