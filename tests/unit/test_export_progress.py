"""Part progress: how often a part writer records its running total, and meta.progress."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from product_export.export.progress import JobStopped, PartProgress, progress_document
from product_export.jobs.models import Job, PartCount, PartFile


class Recorder:
    def __init__(self, *, running: bool = True) -> None:
        self.calls: list[tuple[int, int, bool]] = []
        self.running = running

    def record_part(self, store_id: str, job_id: str, number: int, rows: int, *, done: bool) -> bool:
        self.calls.append((number, rows, done))
        return self.running


class Clock:
    """One second passes per reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def test_running_totals_at_most_once_per_interval_then_done() -> None:
    recorder = Recorder()
    progress = PartProgress(recorder, "s", "j", 7, interval_seconds=5, clock=Clock())
    items = [{"n": n} for n in range(23)]
    assert list(progress.count(items)) == items, "items pass through unchanged"
    progress.done(23)
    assert recorder.calls == [(7, 5, False), (7, 10, False), (7, 15, False), (7, 20, False), (7, 23, True)]


def test_a_short_part_records_only_when_done() -> None:
    recorder = Recorder()
    progress = PartProgress(recorder, "s", "j", 1, interval_seconds=3600, clock=Clock())
    assert sum(1 for _ in progress.count({"n": n} for n in range(1000))) == 1000
    progress.done(1000)
    assert recorder.calls == [(1, 1000, True)]


def test_a_job_no_longer_started_stops_the_stream() -> None:
    recorder = Recorder(running=False)
    progress = PartProgress(recorder, "s", "j", 1, interval_seconds=2, clock=Clock())
    handed: list[Any] = []
    with pytest.raises(JobStopped):
        handed.extend(progress.count({"n": n} for n in range(10)))
    assert handed == [{"n": 0}], "nothing after the refused write"


def _job(**fields: Any) -> Job:
    return Job(id="j", store_id="s", created_at="t", updated_at="t", **fields)


def test_progress_document() -> None:
    assert progress_document(_job()) is None, "not planned yet"
    planned = _job(status="started", products_planned=12, parts_planned=3, part_progress={})
    assert progress_document(planned) == {
        "products_planned": 12,
        "products_written": 0,
        "parts_planned": 3,
        "parts_done": 0,
    }
    running = planned.model_copy(
        update={"part_progress": {"1": PartCount(rows=5, done=True), "3": PartCount(rows=1)}}
    )
    assert progress_document(running) == {
        "products_planned": 12,
        "products_written": 6,
        "parts_planned": 3,
        "parts_done": 1,
    }
    # A job that succeeded before progress was recorded: its files say everything.
    files = [PartFile(number=1, key="k1", rows=5, bytes=9), PartFile(number=2, key="k2", rows=2, bytes=4)]
    legacy = _job(status="success", products=7, files=files)
    assert progress_document(legacy) == {
        "products_planned": 7,
        "products_written": 7,
        "parts_planned": 2,
        "parts_done": 2,
    }


def test_a_stored_job_item_with_progress_reads_back() -> None:
    """As the jobs table decodes it: numbers are Decimals, the progress a map of maps."""
    item = {
        "pk": "s",
        "sk": "job#j",
        "id": "j",
        "store_id": "s",
        "created_at": "t",
        "updated_at": "t",
        "status": "started",
        "products_planned": Decimal(4),
        "parts_planned": Decimal(1),
        "part_progress": {"1": {"rows": Decimal(3), "done": False}},
    }
    job = Job.from_item(item)
    assert job.products_planned == 4 and job.part_progress == {"1": PartCount(rows=3, done=False)}
