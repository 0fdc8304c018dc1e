"""Cutting an export into parts from the keys of the matching products.

Products are visited in (shard, id) order. A part is a list of inclusive id ranges, one per shard it
touches; it closes when it holds ``part_size`` products, so when the catalogue does not change
every part but the last is full. Only keys, the column index and the attributes the filter reads
are fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from product_export.adapters.products_table import KeyRange


@dataclass
class PartPlan:
    number: int
    ranges: list[KeyRange] = field(default_factory=list)
    products: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "products": self.products,
            "ranges": [{"shard": r.shard, "first": r.first, "last": r.last} for r in self.ranges],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> PartPlan:
        ranges = [KeyRange(int(r["shard"]), r["first"], r["last"]) for r in value["ranges"]]
        return cls(int(value["number"]), ranges, int(value.get("products", 0)))


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
