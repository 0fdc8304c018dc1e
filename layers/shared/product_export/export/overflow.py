"""No part file ever holds more than PartSize products, even when the catalogue changes meanwhile.

The planner counts a part's products when it plans; the part writer reads the part's ranges again
later. Products updated in between so that they now match (or created just before the export but
not yet visible to the planner) are in the part's ranges without having been counted, and may
push it past PartSize. Nothing may be dropped instead: the writer cannot tell them from products
that matched all along and were merely updated. So the writer fills the part's file with at most
PartSize rows and puts any rows beyond into overflow files of the same part (rare: it takes
products that started matching during the export), and the last step gives those the numbers
after the planned parts, so the job's files stay ``..._part_1`` to ``..._part_<N>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any, TypeVar

from product_export.adapters.parts_bucket import PartsBucket
from product_export.jobs.models import Job

T = TypeVar("T")
OVERFLOW = "overflow"  # the parts' overflow files wait in this folder of the job's until numbered


def runs(items: Iterable[T], size: int) -> Iterator[Iterator[T]]:
    """Consecutive runs of at most ``size`` items: always a first run (perhaps empty), then one
    more run for each further ``size`` items. Each run must be used up before the next is taken."""
    iterator = iter(items)
    yield islice(iterator, size)
    for head in iterator:
        yield chain((head,), islice(iterator, size - 1))


def overflow_key(job: Job, number: int, index: int) -> str:
    """Where part ``number``'s ``index``-th (1-based) overflow file waits for its number."""
    return f"{job.store_id}/{job.id}/{OVERFLOW}/part_{number}_{index}"


def number_overflow(
    bucket: PartsBucket, job: Job, parts: list[dict[str, Any]], part_key: Callable[[Job, int], str]
) -> list[dict[str, Any]]:
    """The job's files: the planned parts, then every overflow file numbered after them (moved to
    its numbered key). Repeating this after it was interrupted gives the same files."""
    planned = sorted(parts, key=lambda p: int(p["number"]))
    files = [{k: v for k, v in part.items() if k != OVERFLOW} for part in planned]
    number = len(planned)
    for part in planned:
        for spilled in part.get(OVERFLOW, []):
            number += 1
            key = part_key(job, number)
            bucket.move(spilled["key"], key)
            files.append({**spilled, "number": number, "key": key})
    # What retried writers left there (an attempt that overflowed, followed by one that did not).
    bucket.delete_prefix(f"{job.store_id}/{job.id}/{OVERFLOW}/")
    return files
