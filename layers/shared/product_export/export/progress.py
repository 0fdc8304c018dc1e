"""Live progress of an export, kept on its job while it runs.

The planner records how many products and parts it planned. Each part writer counts the products
it hands to the CSV writer and records its running total at most every ``interval_seconds`` (never
one write per product), then once more, marked done, when its object is complete. Totals are SET
per part (``part_progress.<n>``), never added: a retried part restarts its own count instead of
adding to the first attempt's, so the sum over parts never counts a product twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from product_export.jobs.models import Job


class ProgressRecorder(Protocol):
    def record_part(self, store_id: str, job_id: str, number: int, rows: int, *, done: bool) -> bool:
        """Set the part's running total; False when the job is no longer ``started``."""
        ...


class JobStopped(Exception):
    """The job left ``started`` (cancelled) while the part was being written."""


class PartProgress:
    def __init__(
        self,
        recorder: ProgressRecorder,
        store_id: str,
        job_id: str,
        number: int,
        *,
        interval_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recorder = recorder
        self.store_id = store_id
        self.job_id = job_id
        self.number = number
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.rows = 0
        self.recorded = 0  # writes made (for tests and logs)

    def count(self, items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The items unchanged, counted as they are handed on; the total is recorded now and then."""
        last = self.clock()
        for item in items:
            self.rows += 1
            now = self.clock()
            if now - last >= self.interval_seconds:
                last = now
                self._record(done=False)
            yield item

    def done(self, rows: int) -> None:
        """The part's object is complete with ``rows`` rows."""
        self.rows = rows
        self._record(done=True)

    def _record(self, *, done: bool) -> None:
        self.recorded += 1
        if not self.recorder.record_part(self.store_id, self.job_id, self.number, self.rows, done=done):
            raise JobStopped(f"Job {self.job_id} is no longer started")


def progress_document(job: Job) -> dict[str, Any] | None:
    """``meta.progress``: null until the job is planned or when it never was; then the products and
    parts planned and how many of them are written so far."""
    if job.products_planned is None:
        if job.status == "success" and job.products is not None:
            # A job finished before progress was recorded: its files say it all.
            return {
                "products_planned": job.products,
                "products_written": job.products,
                "parts_planned": len(job.files),
                "parts_done": len(job.files),
            }
        return None
    counts = (job.part_progress or {}).values()
    return {
        "products_planned": job.products_planned,
        "products_written": sum(count.rows for count in counts),
        "parts_planned": job.parts_planned,
        "parts_done": sum(1 for count in counts if count.done),
    }
