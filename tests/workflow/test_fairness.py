"""Per-store fairness through the template's state machine: at most MaxConcurrentExportsPerStore
exports of a store run at once, the others wait as pending and start in creation order, and every
way a job ends gives its slot back."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.adapters.jobs_table import JobsTable
from product_export.ids import uuid7
from product_export.jobs.models import Job
from product_export.values import now_timestamp
from tests.support import ApiClient, load_event, product, slots_given_back

pytestmark = pytest.mark.workflow


class HoldJobs:
    """Holds each call of a function for a job (of every job ``which`` selects) until the job is
    let go; ``entered`` tells which jobs reached it, ``fail`` makes a job's call raise."""

    def __init__(
        self, stack: EmbeddedStack, logical_id: str, which: Callable[[Any], bool] = lambda event: True
    ) -> None:
        self.which = which
        self.entered: dict[str, threading.Event] = defaultdict(threading.Event)
        self.gates: dict[str, threading.Event] = defaultdict(threading.Event)
        self.fail: dict[str, Exception] = {}
        stack.dispatcher.intercept(logical_id, self._call)

    def let_go(self, *job_ids: str) -> None:
        for job_id in job_ids:
            self.gates[job_id].set()

    def _call(self, event: Any, context: Any, call_real: Callable[[Any], Any]) -> Any:
        job_id = event["job_id"]
        self.entered[job_id].set()
        if self.which(event):
            assert self.gates[job_id].wait(60), f"{job_id} was never let go"
        if job_id in self.fail:
            raise self.fail[job_id]
        return call_real(event)


def _status(admin: ApiClient, job_id: str) -> str:
    return str(admin.get(f"/pcm/jobs/{job_id}").json()["data"]["attributes"]["status"])


def test_exports_of_a_store_run_one_at_a_time_in_creation_order(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    admin.create_product(product(1))
    writes = HoldJobs(stack, "WritePartFunction")
    first = admin.export()["id"]
    assert writes.entered[first].wait(30)
    second, third = admin.export()["id"], admin.export()["id"]

    # Once the first export gives its slot back, the third must not overtake the second: the
    # second's attempts are held until the third has tried with the slot free.
    attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    released = threading.Event()
    third_tried_free = threading.Event()

    def acquire(event: Any, context: Any, call_real: Callable[[Any], Any]) -> Any:
        job_id = event["job_id"]
        free_now = released.is_set()
        if job_id == second and free_now:
            assert third_tried_free.wait(30)
        decision = call_real(event)
        attempts[job_id].append(decision)
        if job_id == third and free_now:
            third_tried_free.set()
        return decision

    def finalize(event: Any, context: Any, call_real: Callable[[Any], Any]) -> Any:
        result = call_real(event)
        if event["job_id"] == first:
            released.set()
        return result

    stack.dispatcher.intercept("AcquireExportSlotFunction", acquire)
    stack.dispatcher.intercept("FinalizeExportFunction", finalize)
    deadline = time.monotonic() + 30
    while not (attempts[second] and attempts[third]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _status(admin, first) == "started"
    assert (_status(admin, second), _status(admin, third)) == ("pending", "pending"), (
        "waiting jobs stay pending"
    )

    writes.let_go(first, second, third)
    jobs = [admin.wait_for_job(job_id, timeout=60)["attributes"] for job_id in (first, second, third)]
    assert [job["status"] for job in jobs] == ["success"] * 3
    assert jobs[0]["completed_at"] <= jobs[1]["started_at"], "the second starts once the first is done"
    assert jobs[1]["completed_at"] <= jobs[2]["started_at"], "the third starts once the second is done"
    assert third_tried_free.is_set(), "the third export asked while the slot was free"
    assert not attempts[third][-2]["acquired"], "... and waited for the older one"
    assert slots_given_back(stack, store.store_id)


def test_stores_do_not_wait_for_each_other(
    stack: EmbeddedStack, store: Store, other_store: Store, admin: ApiClient
) -> None:
    theirs = ApiClient(stack, other_store.admin_token)
    admin.create_product(product(1))
    theirs.create_product(product(2))
    writes = HoldJobs(stack, "WritePartFunction", which=lambda event: event["store_id"] == store.store_id)
    mine = admin.export()["id"]
    assert writes.entered[mine].wait(30)
    mine_next = admin.export()["id"]

    other = theirs.wait_for_job(theirs.export()["id"], timeout=30)
    assert other["attributes"]["status"] == "success", "another store's export runs meanwhile"
    assert (_status(admin, mine), _status(admin, mine_next)) == ("started", "pending")

    writes.let_go(mine, mine_next)
    assert admin.wait_for_job(mine)["attributes"]["status"] == "success"
    assert admin.wait_for_job(mine_next, timeout=60)["attributes"]["status"] == "success"


@pytest.mark.stack_parameters(MaxConcurrentExportsPerStore=2)
def test_the_limit_comes_from_the_template(stack: EmbeddedStack, store: Store, admin: ApiClient) -> None:
    admin.create_product(product(1))
    writes = HoldJobs(stack, "WritePartFunction")
    running = [admin.export()["id"], admin.export()["id"]]
    for job_id in running:
        assert writes.entered[job_id].wait(30)
    third = admin.export()["id"]
    time.sleep(1.5)  # it has asked for a slot at least once meanwhile
    assert [_status(admin, job_id) for job_id in [*running, third]] == ["started", "started", "pending"]
    assert sorted(JobsTable(stack.refs["JobsTable"]).slot_holders(store.store_id)) == sorted(running)
    writes.let_go(*running, third)
    assert admin.wait_for_job(third, timeout=60)["attributes"]["status"] == "success"


def test_every_way_a_job_ends_gives_its_slot_back(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    admin.create_product(product(1))
    writes = HoldJobs(stack, "WritePartFunction")

    # Cancelled while it writes: the next export starts.
    cancelled = admin.export()["id"]
    assert writes.entered[cancelled].wait(30)
    after_cancel = admin.export()["id"]
    assert admin.post(f"/pcm/jobs/{cancelled}/cancel").status == 200
    assert writes.entered[after_cancel].wait(30), "the cancelled export's slot was given back"
    writes.let_go(cancelled)

    # Timed out (the execution ended without its last step): the reconciler gives the slot back.
    after_timeout = admin.export()["id"]
    event = load_event("reconcile_exports-execution-timed-out.json")
    event["detail"]["input"] = f'{{"store_id": "{store.store_id}", "job_id": "{after_cancel}"}}'
    assert stack.dispatcher.invoke("ReconcileExportsFunction", event)["status"] == "failed"
    assert writes.entered[after_timeout].wait(30), "the timed-out export's slot was given back"
    writes.let_go(after_cancel)

    # Failed (its part writer raised): the next export runs to success.
    writes.fail[after_timeout] = RuntimeError("disk on fire")
    after_failure = admin.export()["id"]
    writes.let_go(after_timeout, after_failure)
    assert admin.wait_for_job(after_timeout)["attributes"]["status"] == "failed"
    assert admin.wait_for_job(after_failure, timeout=60)["attributes"]["status"] == "success"

    assert [_status(admin, job_id) for job_id in (cancelled, after_cancel)] == ["cancelled", "failed"]
    assert slots_given_back(stack, store.store_id)


def test_the_sample_event_asks_for_a_slot(stack: EmbeddedStack, store: Store, admin: ApiClient) -> None:
    """events/acquire_export_slot.json, for a job that is pending and one that is over."""
    jobs = JobsTable(stack.refs["JobsTable"])
    now = now_timestamp()
    waiting = Job(id=uuid7(), store_id=store.store_id, created_at=now, updated_at=now)
    jobs.create(waiting)  # no execution: the step is run by hand
    event = {**load_event("acquire_export_slot.json"), "store_id": store.store_id, "job_id": waiting.id}
    taken = stack.dispatcher.invoke("AcquireExportSlotFunction", event)
    assert taken == {"acquired": True, "closed": False, "attempt": 0, "wait_seconds": 0}
    assert jobs.export_slots(store.store_id).waiting == {}, "it took a slot: it no longer waits"
    assert stack.dispatcher.invoke("AcquireExportSlotFunction", event)["acquired"], "asking again is harmless"

    later = Job(id=uuid7(), store_id=store.store_id, created_at=now_timestamp(), updated_at=now)
    jobs.create(later)
    full = stack.dispatcher.invoke("AcquireExportSlotFunction", {**event, "job_id": later.id, "attempt": 3})
    assert full == {"acquired": False, "closed": False, "attempt": 4, "wait_seconds": 4}
    assert list(jobs.export_slots(store.store_id).waiting) == [later.id], "it waits in the queue"

    jobs.transition(store.store_id, later.id, "cancelled", completed_at=now, updated_at=now)
    closed = stack.dispatcher.invoke("AcquireExportSlotFunction", {**event, "job_id": later.id})
    assert closed["closed"] and not closed["acquired"]
    assert list(jobs.slot_holders(store.store_id)) == [waiting.id]
