"""Per-store fairness: at most N exports of one store run at once, the others wait in creation order.

A durable semaphore in the jobs table: one item per store holds the jobs that have a slot. The
workflow's first step asks for a slot and, while none is free, waits (a Wait state, with backoff)
and asks again; the job stays ``pending`` meanwhile. A job may take a free slot only if no older
open job of its store is still waiting, so exports start in creation order. Every way a job ends
gives the slot back: the workflow's last step (success or failure), cancellation, and the
reconciler for executions that ended without their last step (timeout, stop, crash).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from product_export.adapters.jobs_table import ExportSlotState, JobClosed, JobsTable
from product_export.errors import NotFound
from product_export.jobs.models import FINAL_STATUSES
from product_export.values import format_timestamp, now_timestamp

# An older job blocks the queue only once it has asked for a slot, or while its first request may
# still be on its way: a job whose execution never started (the reconciler fails it later) must not
# hold its store's exports up meanwhile.
FIRST_REQUEST_GRACE = timedelta(seconds=60)
# Waits between attempts grow 1, 2, 3, 4, 6, 8, 12 ... seconds up to this: a slot freed is noticed
# within half a minute, and a job waiting two hours costs about 250 cheap attempts.
MAX_WAIT_SECONDS = 30


def wait_seconds(attempt: int) -> int:
    """Seconds to wait after the ``attempt``-th (0-based) unsuccessful attempt."""
    return min(MAX_WAIT_SECONDS, math.ceil(1.5 ** min(attempt, 20)))


class ExportSlots:
    def __init__(self, jobs: JobsTable) -> None:
        self.jobs = jobs

    def acquire(self, store_id: str, job_id: str, *, limit: int, attempt: int) -> dict[str, Any]:
        """One attempt to take a slot: ``acquired``, or ``closed`` (the job ended: stop), or wait
        ``wait_seconds`` and try again as ``attempt``."""
        closed = {"acquired": False, "closed": True, "attempt": attempt, "wait_seconds": 0}
        try:
            job = self.jobs.get(store_id, job_id)
        except NotFound:
            return closed
        if job.status in FINAL_STATUSES:
            return closed
        now = now_timestamp()
        slots = self.jobs.export_slots(store_id)
        if job_id not in slots.holders:
            if job_id not in slots.waiting:
                self.jobs.join_slot_queue(store_id, job_id, now=now)
            if len(slots.holders) >= limit or self._older_job_waiting(
                store_id, job.created_at, job_id, slots
            ):
                return self._wait(attempt)
            try:
                if not self.jobs.take_slot(store_id, job_id, limit=limit, now=now):
                    return self._wait(attempt)  # another job took the last slot first
            except JobClosed:
                return closed
        return {"acquired": True, "closed": False, "attempt": attempt, "wait_seconds": 0}

    def release(self, store_id: str, job_id: str) -> bool:
        """Give the job's slot back (nothing happens if it holds none)."""
        return self.jobs.release_slot(store_id, job_id)

    def _older_job_waiting(self, store_id: str, created_at: str, job_id: str, slots: ExportSlotState) -> bool:
        """Is an open job of the store, created before this one, waiting for a slot?"""
        recent = format_timestamp(datetime.now(UTC) - FIRST_REQUEST_GRACE)
        for other_created_at, other_id in self.jobs.open_jobs_of_store(store_id, created_until=created_at):
            # Job ids are UUIDv7: they order jobs created within the same millisecond.
            if (other_created_at, other_id) >= (created_at, job_id) or other_id in slots.holders:
                continue
            if other_id in slots.waiting or other_created_at >= recent:
                return True
        return False

    @staticmethod
    def _wait(attempt: int) -> dict[str, Any]:
        return {
            "acquired": False,
            "closed": False,
            "attempt": attempt + 1,
            "wait_seconds": wait_seconds(attempt),
        }
