"""Delta exports: what changed since a time, read from the updated-at index, each change once.

An export whose filter bounds ``updated_at`` from below (``gt(updated_at,<time>)``, or the bound
``since=last-success`` adds) reads the updated-at index instead of the table, so its cost follows
the number of changed products. Its window is capped at the job's cut-over time, fixed when it is
planned: a product updated while the export runs leaves the window (its new time is later) rather
than moving from one part's range into another's, so it lands in no part of this export and in the
next delta export, never in two parts. Parts are contiguous (updated_at, id) ranges per shard: each
product of the window falls in exactly one, whatever its position when a part is written.

The cut-over lags the snapshot time (when planning began) by ``DeltaSettleSeconds``: a write
that computed its updated_at earlier but had not landed (or not reached the index) when the
planner read is not lost, it is left for the next delta. Consecutive ``since=last-success``
exports thus cover the back-to-back windows (previous cut-over, own cut-over]. A full export
holds every change up to its cut-over too (and perhaps later ones), so a delta may follow it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from product_export.catalogue.service import UpdatedRange
from product_export.errors import BadRequest
from product_export.filters import And, Comparison, Expr, parse_filter, resolve_field
from product_export.jobs.models import Job
from product_export.values import format_timestamp

SINCE_LAST_SUCCESS = "last-success"
INDEX_RANGES = "updated_ranges"  # the part descriptor's key for ranges on the updated-at index


def validate_since(since: str | None) -> Literal["last-success"] | None:
    """The ``since`` query parameter: absent or ``last-success``."""
    if since is None or since == "":
        return None
    if since != SINCE_LAST_SUCCESS:
        raise BadRequest(
            f"since must be {SINCE_LAST_SUCCESS} (for a fixed time use filter=gt(updated_at,<time>))",
            source="since",
        )
    return "last-success"


def cutover_time(settle_seconds: int, snapshot_at: str | None) -> str:
    """``settle_seconds`` before the export's snapshot time (when planning began; now without one).

    Never after the snapshot: a product created after it is left out of this export (see
    export/planner.py in_snapshot), so its creation must fall after the cut-over, into the next delta.
    """
    moment = datetime.fromisoformat(snapshot_at.replace("Z", "+00:00")) if snapshot_at else datetime.now(UTC)
    return format_timestamp(moment - timedelta(seconds=settle_seconds))


def export_filter(job: Job) -> Expr | None:
    """The job's filter, ANDed with ``gt(updated_at, <updated_after>)`` for a delta export."""
    expr = parse_filter(job.filter)
    if job.updated_after is None:
        return expr
    bound = Comparison("gt", resolve_field("updated_at"), (job.updated_after,))
    return bound if expr is None else And((expr, bound))


@dataclass
class IndexPart:
    """A part read from the updated-at index: (updated_at, id) ranges, at most one per shard."""

    number: int
    ranges: list[UpdatedRange] = field(default_factory=list)
    products: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "products": self.products,
            INDEX_RANGES: [
                {
                    "shard": r.shard,
                    "after": list(r.after) if r.after else None,
                    "upto": list(r.upto) if r.upto else None,
                }
                for r in self.ranges
            ],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> IndexPart:
        ranges = [
            UpdatedRange(
                int(r["shard"]),
                (str(r["after"][0]), str(r["after"][1])) if r["after"] else None,
                (str(r["upto"][0]), str(r["upto"][1])) if r["upto"] else None,
            )
            for r in value[INDEX_RANGES]
        ]
        return cls(int(value["number"]), ranges, int(value.get("products", 0)))


def is_index_part(value: dict[str, Any]) -> bool:
    return INDEX_RANGES in value


def in_key_order(keys: Iterable[tuple[int, str, str]]) -> Iterator[tuple[int, str, str]]:
    """(shard, updated_at, id) keys in index order, with each run of equal times sorted by id.

    The index orders equal times arbitrarily; part edges are (time, id) pairs, so the planner must
    count in exactly that order for every part to hold what it planned.
    """
    run: list[tuple[int, str, str]] = []
    for key in keys:
        if run and key[:2] != run[0][:2]:
            yield from sorted(run)
            run = []
        run.append(key)
    yield from sorted(run)


def cut_index_parts(keys: Iterable[tuple[int, str, str]], part_size: int) -> Iterator[IndexPart]:
    """Group (shard, updated_at, id) keys, in index order, into parts of at most ``part_size``.

    A shard's ranges are contiguous: its first starts at the window's start, each next one right
    after the previous one's last product, and its last runs to the window's end (the cut-over).
    """
    part: IndexPart | None = None
    previous: tuple[int, str, str] | None = None
    for shard, updated_at, product_id in keys:
        if part is None or part.products == part_size:
            if part is not None:
                yield _close_shard(part, previous, shard)
            part = IndexPart(number=1 if part is None else part.number + 1)
        if part.ranges and part.ranges[-1].shard == shard:
            part.ranges[-1] = UpdatedRange(shard, part.ranges[-1].after, (updated_at, product_id))
        else:
            if part.ranges:  # the previous shard ends in this part: open its range to the end
                part.ranges[-1] = UpdatedRange(part.ranges[-1].shard, part.ranges[-1].after, None)
            after = previous[1:] if previous is not None and previous[0] == shard else None
            part.ranges.append(UpdatedRange(shard, after, (updated_at, product_id)))
        part.products += 1
        previous = (shard, updated_at, product_id)
    if part is not None:
        yield _close_shard(part, previous, None)


def _close_shard(part: IndexPart, last: tuple[int, str, str] | None, next_shard: int | None) -> IndexPart:
    """A full part whose last shard continues in the next part keeps its edge; otherwise the shard
    ends here and its range runs to the end of the window."""
    if part.ranges and last is not None and next_shard != last[0]:
        part.ranges[-1] = UpdatedRange(part.ranges[-1].shard, part.ranges[-1].after, None)
    return part
