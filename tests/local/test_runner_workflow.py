"""Exports on the runner, as they ship: every step in worker processes of its own, over HTTP.

The faults are made by real processes, not injected into a call: a part writer killed with SIGKILL
in the middle of its part, a writer stopped (SIGSTOP) until its Timeout passes, and a writer whose
MemorySize is too small for its part. Each export ends in the right state, with every product in
exactly one row or no file at all.
"""

from __future__ import annotations

import copy
import csv
import io
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.lambdas import RunnerLambdas
from local.runner.runner import LambdaRunner
from local.seed import seed
from local.server import LocalService, local_service
from local.stores import create_store
from local.template import Template

PRODUCTS = 3_000
PART_SIZE = 1_000
WRITER_TIMEOUT = 5  # seconds: a warm writer of 1,000 products needs well under one


def _template(**writer: Any) -> Template:
    """template.yaml with the part writer's properties changed (a smaller Timeout or MemorySize)."""
    base = Template.load()
    document = copy.deepcopy(base.document)
    document["Resources"]["WritePartFunction"]["Properties"].update(writer)
    return Template(document, base.path)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    with local_service(
        port=0,
        parameters={"PartSize": str(PART_SIZE), "LogLevel": "INFO"},
        log_dir=tmp_path_factory.mktemp("logs"),
        template=_template(Timeout=WRITER_TIMEOUT),
    ) as started:
        yield started


def runner_of(service: LocalService) -> LambdaRunner:
    assert isinstance(service.stack.dispatcher, RunnerLambdas)
    return service.stack.dispatcher.runner


class Store:
    def __init__(self, service: LocalService, products: int) -> None:
        created = create_store(service.stack, "runner store")
        self.store_id = created.store_id
        assert seed(created.store_id, products) == products
        self.base = service.base_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {created.admin_token}"

    def export(self) -> str:
        answer = self.http.post(f"{self.base}/pcm/products/export", timeout=60)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["data"]["id"])

    def wait(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.http.get(f"{self.base}/pcm/jobs/{job_id}", timeout=60).json()["data"]
            if job["attributes"]["status"] in {"success", "failed", "cancelled"}:
                return job
            time.sleep(0.2)
        raise TimeoutError(job_id)

    def errors(self, job_id: str) -> list[str]:
        answer = self.http.get(f"{self.base}/pcm/jobs/{job_id}/errors", timeout=60).json()
        return [error["attributes"]["message"] for error in answer["data"]]

    def rows(self, job: dict[str, Any]) -> list[str]:
        """The product ids of every row of every file of a finished job."""
        ids = []
        for link in job["meta"]["file_locations"] or []:
            data = requests.get(link, timeout=60)
            data.raise_for_status()
            ids += [row["id"] for row in csv.DictReader(io.StringIO(data.content.decode("utf-8")))]
        return ids


def _busy_writer(runner: LambdaRunner, timeout: float = 60) -> int:
    """The pid of a part writer in the middle of a call."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = runner.busy("WritePartFunction")
        if busy and busy[0].init_ms is not None:
            return busy[0].pid
        time.sleep(0.01)
    raise TimeoutError("no part writer started")


def test_an_export_runs_each_step_in_workers_of_its_own(service: LocalService) -> None:
    store = Store(service, PRODUCTS)
    job = store.wait(store.export())
    assert job["attributes"]["status"] == "success", store.errors(job["id"])
    ids = store.rows(job)
    assert len(ids) == PRODUCTS and len(set(ids)) == PRODUCTS
    runner = runner_of(service)
    for step in ("AcquireExportSlotFunction", "PlanExportFunction", "PlanShardGroupFunction"):
        workers = runner.workers(step)
        assert workers and all(w.pid != os.getpid() for w in workers), step
    for step in ("CombinePlanFunction", "WritePartFunction", "FinalizeExportFunction", "JobsApiFunction"):
        log = (runner.log_dir / f"{step}.log").read_text(encoding="utf-8")
        assert "REPORT RequestId:" in log and "Init Duration:" in log, step
    assert set(runner.init_durations()) >= {"WritePartFunction", "AuthorizerFunction", "TokenFunction"}


def test_a_writer_killed_mid_part_is_retried_and_no_row_is_lost_or_doubled(service: LocalService) -> None:
    store = Store(service, PRODUCTS)
    runner = runner_of(service)
    job_id = store.export()
    writer = _busy_writer(runner)
    time.sleep(0.1)
    os.kill(writer, signal.SIGKILL)
    job = store.wait(job_id)
    assert job["attributes"]["status"] == "success", store.errors(job_id)
    ids = store.rows(job)
    assert len(ids) == PRODUCTS and len(set(ids)) == PRODUCTS
    log = (runner.log_dir / "WritePartFunction.log").read_text(encoding="utf-8")
    assert "Status: error" in log  # the killed call's REPORT


def test_a_writer_past_its_timeout_is_ended_and_retried(service: LocalService) -> None:
    store = Store(service, PRODUCTS)
    runner = runner_of(service)
    job_id = store.export()
    writer = _busy_writer(runner)
    os.kill(writer, signal.SIGSTOP)  # it hangs, as on a lost connection: only the timeout ends it
    started = time.monotonic()
    job = store.wait(job_id)
    assert time.monotonic() - started >= WRITER_TIMEOUT - 1
    assert job["attributes"]["status"] == "success", store.errors(job_id)
    ids = store.rows(job)
    assert len(ids) == PRODUCTS and len(set(ids)) == PRODUCTS
    log = (runner.log_dir / "WritePartFunction.log").read_text(encoding="utf-8")
    assert "Status: timeout" in log
