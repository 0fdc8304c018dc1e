"""Cutting an export into parts from the keys of the matching products.

A part is a list of inclusive id ranges, one per shard it touches, and holds ``part_size``
products, so when the catalogue does not change every part but the last is full. Only keys, the
column index and the attributes the filter reads are fetched.

``cut_parts`` cuts keys visited in (shard, id) order. A large store is planned shard by shard,
all shards at once (the workflow runs a planner Lambda per group of ``SHARDS_PER_PLANNER`` shards,
each reading its shards on threads, so planning time follows one shard, not the store): each
shard is cut into full one-range parts as its keys arrive (``cut_shard``), and the shards'
remainders are then cut together in shard order (``combine_shards``), so the parts are as full as
``cut_parts`` makes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from product_export.adapters.products_table import KeyRange
from product_export.catalogue.models import SHARD_COUNT
from product_export.filters import And, Comparison, Expr, resolve_field

# Shards one planner Lambda reads at once (one thread each). Two keep a full vCPU busy (a Query
# page takes longer to arrive than its keys take to cut) while a 10-million-product store is
# still planned by the CPU of 32 Lambdas; SHARD_COUNT / 2 = 32 planners stay under the inline
# Map's 40 at once (docs/performance.md, "Scaling model").
SHARDS_PER_PLANNER = 2


def shard_groups(shard_count: int = SHARD_COUNT, per_planner: int = SHARDS_PER_PLANNER) -> list[list[int]]:
    """The store's shards in consecutive groups, one planner each: [[0, 1], [2, 3], ...]."""
    return [
        list(range(first, min(first + per_planner, shard_count)))
        for first in range(0, shard_count, per_planner)
    ]


@dataclass(frozen=True)
class PartRange(KeyRange):
    """A KeyRange whose ``first`` id belongs to the range before it (``after``): ranges that meet
    at an id share it as an edge, so together they leave no id out and hold each id once."""

    after: bool = False


@dataclass
class PartPlan:
    number: int
    ranges: list[KeyRange] = field(default_factory=list)
    products: int = 0

    def to_json(self) -> dict[str, Any]:
        ranges = []
        for r in self.ranges:
            value: dict[str, Any] = {"shard": r.shard, "first": r.first, "last": r.last}
            if isinstance(r, PartRange) and r.after:
                value["after"] = True
            ranges.append(value)
        return {"number": self.number, "products": self.products, "ranges": ranges}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> PartPlan:
        ranges: list[KeyRange] = [
            PartRange(int(r["shard"]), r["first"], r["last"], after=True)
            if r.get("after")
            else KeyRange(int(r["shard"]), r["first"], r["last"])
            for r in value["ranges"]
        ]
        return cls(int(value["number"]), ranges, int(value.get("products", 0)))

    def without_edges(self, items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The items of the part's ranges minus the edge ids that belong to the range before."""
        edges = {r.first for r in self.ranges if isinstance(r, PartRange) and r.after}
        if not edges:
            yield from items
            return
        for item in items:
            if item["sk"] not in edges:
                yield item


def cut_parts(keys: Iterable[tuple[int, str]], part_size: int) -> Iterator[PartPlan]:
    """Group (shard, id) keys, already in order, into parts of at most ``part_size``."""
    part: PartPlan | None = None
    for shard, product_id in keys:
        if part is None or part.products == part_size:
            if part is not None:
                yield part
            part = PartPlan(number=1 if part is None else part.number + 1)
        if part.ranges and part.ranges[-1].shard == shard:
            part.ranges[-1] = KeyRange(shard, part.ranges[-1].first, product_id)
        else:
            part.ranges.append(KeyRange(shard, product_id, product_id))
        part.products += 1
    if part is not None:
        yield part


@dataclass
class ShardCut:
    """One shard's ids cut into full one-range parts; ``remainder`` holds the ids left over (fewer
    than the part size), in id order."""

    shard: int
    part_size: int
    full: list[KeyRange] = field(default_factory=list)
    remainder: list[str] = field(default_factory=list)

    @property
    def products(self) -> int:
        return len(self.full) * self.part_size + len(self.remainder)


def cut_shard(shard: int, ids: Iterable[str], part_size: int) -> ShardCut:
    """Full parts of exactly ``part_size`` from one shard's ids (in id order) as they arrive."""
    cut = ShardCut(shard, part_size)
    left: list[str] = []
    for product_id in ids:
        left.append(product_id)
        if len(left) == part_size:
            cut.full.append(KeyRange(shard, left[0], left[-1]))
            left = []
    cut.remainder = left
    return cut


def combine_shards(cuts: Sequence[ShardCut], part_size: int) -> list[PartPlan]:
    """The parts of every shard: the shards' full parts first, numbered from 1 taking one from each
    shard in turn, then their remainders cut together in shard order, so only the last part may be
    smaller. The part writers start in number order: taking the shards in turn spreads the writers
    running at once over all the shards' partitions (3,000 read units/s each), not a few."""
    in_turn = (r for rank in zip_longest(*(cut.full for cut in cuts)) for r in rank if r is not None)
    parts = [PartPlan(number, [key_range], part_size) for number, key_range in enumerate(in_turn, start=1)]
    remainders = ((cut.shard, product_id) for cut in cuts for product_id in cut.remainder)
    mixed = list(cut_parts(remainders, part_size))  # numbered 1.. (each from the one before)
    for part in mixed:
        part.number += len(parts)
    return parts + mixed


def cover_key_space(parts: list[PartPlan], shards: Sequence[int]) -> list[PartPlan]:
    """The same parts, with ranges widened so that together they hold every id of every shard once.

    The planner counts the products that match when it reads; a part writer reads its ranges again
    later. Products missing from the planner's read (created just before, not yet visible to its
    eventually consistent Query) would otherwise fall between two ranges, or before a shard's first
    range, and be left out. Widened, a shard's first range starts at its beginning, each next one
    right after the one before (``PartRange.after``), its last runs to its end, and a shard with no
    range at all goes to the last part. With no parts (nothing matched) there is nothing to widen.
    """
    if not parts:
        return parts
    by_shard: dict[int, list[tuple[int, KeyRange]]] = {}
    for index, part in enumerate(parts):
        for key_range in part.ranges:
            by_shard.setdefault(key_range.shard, []).append((index, key_range))
    widened: list[list[KeyRange]] = [[] for _ in parts]
    for shard in shards:
        ranges = sorted(by_shard.get(shard, []), key=lambda entry: entry[1].first or "")
        if not ranges:
            widened[-1].append(KeyRange(shard))
            continue
        previous_last: str | None = None
        for position, (index, key_range) in enumerate(ranges):
            last = None if position == len(ranges) - 1 else key_range.last
            if previous_last is None:
                widened[index].append(KeyRange(shard, None, last))
            else:
                widened[index].append(PartRange(shard, previous_last, last, after=True))
            previous_last = key_range.last
    return [
        PartPlan(part.number, sorted(ranges, key=lambda r: (r.shard, r.first or "")), part.products)
        for part, ranges in zip(parts, widened, strict=True)
    ]


def in_snapshot(expr: Expr | None, snapshot_at: str | None) -> Expr | None:
    """The export's filter, limited to the products created by its snapshot time.

    ``snapshot_at`` is fixed when planning begins. The planner and the part writers both apply it,
    so a product created while the export runs is in neither the count nor the rows (it belongs to
    the next export); one that exists throughout and keeps matching is in both, in exactly one part.
    """
    if snapshot_at is None:
        return expr
    bound = Comparison("le", resolve_field("created_at"), (snapshot_at,))
    return bound if expr is None else And((expr, bound))
