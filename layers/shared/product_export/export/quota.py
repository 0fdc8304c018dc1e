"""The per-store cap on exports started in any hour (Parameter ExportsPerStorePerHour).

An export reads a store's whole (filtered) catalogue, so a runaway client or a stolen key could make
the service read it over and over. The count is durable and needs no counter item: job ids are
UUIDv7, time ordered, so the jobs a store created in the last hour are one key range of its
partition. A refused request gets a 429 whose ``Retry-After`` says when the oldest export of the
window leaves it. Requests racing for the last free slot may all pass (check, then create); API
Gateway's burst limit bounds that, and the next request sees them all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from product_export.adapters.jobs_table import JobsTable
from product_export.errors import TooManyRequests
from product_export.ids import uuid7_floor, uuid7_millis

WINDOW_SECONDS = 3600


class ExportQuota:
    def __init__(self, jobs: JobsTable, per_hour: int, *, clock: Callable[[], float] = time.time) -> None:
        self.jobs = jobs
        self.per_hour = per_hour  # 0: no cap
        self.clock = clock

    def check(self, store_id: str) -> None:
        """Raise TooManyRequests when the store already started ``per_hour`` exports in the last hour."""
        if self.per_hour <= 0:
            return
        now_ms = int(self.clock() * 1000)
        recent = self.jobs.job_ids_since(
            store_id, uuid7_floor(now_ms - WINDOW_SECONDS * 1000), limit=self.per_hour
        )
        if len(recent) < self.per_hour:
            return
        frees_at_ms = uuid7_millis(recent[0]) + WINDOW_SECONDS * 1000
        retry_after = math.ceil((frees_at_ms - now_ms) / 1000)
        raise TooManyRequests(
            f"This store started {self.per_hour} exports in the last hour, the most allowed; "
            f"retry after {retry_after} seconds",
            retry_after=retry_after,
        )
