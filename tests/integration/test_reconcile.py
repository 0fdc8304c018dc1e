"""No job stays pending or started: reconciliation on execution events and by the periodic sweep."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.adapters.jobs_table import JobClosed, JobsTable
from product_export.adapters.parts_bucket import PartsBucket
from product_export.adapters.workflow import ExportWorkflow
from product_export.ids import uuid7
from product_export.jobs.models import Job
from product_export.jobs.reconcile import Reconciler
from product_export.values import format_timestamp
from tests.support import ApiClient, Gate, load_event, product


def _event(store: Store, job_id: str, status: str) -> dict:  # type: ignore[type-arg]
    event = load_event("reconcile_exports-execution-timed-out.json")
    event["detail"]["input"] = json.dumps({"store_id": store.store_id, "job_id": job_id})
    event["detail"]["status"] = status
    return event  # type: ignore[no-any-return]


def _errors(admin: ApiClient, job_id: str) -> list[str]:
    body = admin.get(f"/pcm/jobs/{job_id}/errors").json()
    return [error["attributes"]["message"] for error in body["data"]]


def test_timed_out_execution_fails_its_job_with_a_reason(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    admin.create_product(product(1))
    gate = Gate(stack, "WritePartFunction")
    job = admin.export()
    assert gate.entered.wait(30)
    result = stack.dispatcher.invoke("ReconcileExportsFunction", _event(store, job["id"], "TIMED_OUT"))
    assert result == {"job_id": job["id"], "status": "failed"}
    gate.release.set()
    time.sleep(0.5)
    done = admin.get(f"/pcm/jobs/{job['id']}").json()["data"]
    assert done["attributes"]["status"] == "failed"
    assert done["attributes"]["completed_at"]
    assert done["meta"]["file_locations"] is None
    assert _errors(admin, job["id"]) == [
        "Export failed: The export took longer than the workflow's time limit and was stopped"
    ]


def test_events_for_finished_jobs_change_nothing(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    job = admin.wait_for_job(admin.export()["id"])
    assert job["attributes"]["status"] == "success"
    result = stack.dispatcher.invoke("ReconcileExportsFunction", _event(store, job["id"], "ABORTED"))
    assert result["status"] == "success"
    assert _errors(admin, job["id"]) == []


def _reconciler(stack: EmbeddedStack, jobs: JobsTable) -> Reconciler:
    return Reconciler(
        jobs, ExportWorkflow(stack.refs["ExportStateMachine"]), PartsBucket(stack.refs["PartsBucket"])
    )


def test_sweep_fails_jobs_that_never_started_or_whose_execution_ended(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    jobs = JobsTable(stack.refs["JobsTable"])
    old = format_timestamp(datetime.now(UTC) - timedelta(hours=1))
    lost = Job(id=uuid7(), store_id=store.store_id, created_at=old, updated_at=old)
    jobs.create(lost)  # its StartExecution never happened

    running_gate = Gate(stack, "PlanExportFunction")
    running = admin.export()
    assert running_gate.entered.wait(30)

    result = stack.dispatcher.invoke(
        "ReconcileExportsFunction", load_event("reconcile_exports-schedule.json")
    )
    assert result == {"reconciled": [lost.id]}, "recent and running jobs are left alone"
    assert admin.get(f"/pcm/jobs/{lost.id}").json()["data"]["attributes"]["status"] == "failed"
    assert _errors(admin, lost.id) == ["Export failed: The export's workflow never started"]

    # The running export's execution is stopped outside the service: the next sweep catches it.
    workflow = ExportWorkflow(stack.refs["ExportStateMachine"])
    workflow.stop(running["id"], cause="stopped from the console")
    running_gate.release.set()  # the step in flight finishes; the execution then ends ABORTED
    deadline = time.monotonic() + 30
    while workflow.status(running["id"]) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    later = datetime.now(UTC) + timedelta(minutes=10)
    swept = _reconciler(stack, jobs).sweep(now=later)
    assert [job.id for job in swept] == [running["id"]]
    assert _errors(admin, running["id"]) == [
        "Export failed: The export's workflow was stopped before it finished"
    ]
    running_gate.release.set()
    time.sleep(0.5)
    assert admin.get(f"/pcm/jobs/{running['id']}").json()["data"]["attributes"]["status"] == "failed"
    assert list(jobs.open_jobs(created_before=format_timestamp(later))) == [], "no open job is left"


def test_the_workflow_has_a_time_limit_from_the_template(stack: EmbeddedStack) -> None:
    assert stack.state_machine_arn is not None
    described = stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.state_machine_arn)
    definition = json.loads(described["definition"])
    assert definition["TimeoutSeconds"] == int(stack.parameters["ExportTimeoutSeconds"]) == 7200


def test_sweep_gives_back_the_slots_of_jobs_that_are_over(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    jobs = JobsTable(stack.refs["JobsTable"])
    admin.create_product(product(1))
    running_gate = Gate(stack, "WritePartFunction")
    running = admin.export()
    assert running_gate.entered.wait(30)

    # A job whose last step recorded its outcome but stopped before giving the slot back.
    now = format_timestamp(datetime.now(UTC))
    finished = Job(id=uuid7(), store_id=store.store_id, created_at=now, updated_at=now)
    jobs.create(finished)
    assert jobs.take_slot(store.store_id, finished.id, limit=2, now=now)
    jobs.transition(store.store_id, finished.id, "failed", completed_at=now, updated_at=now)
    assert sorted(jobs.slot_holders(store.store_id)) == sorted([running["id"], finished.id])

    assert _reconciler(stack, jobs).sweep() == [], "no open job to fail"
    assert list(jobs.slot_holders(store.store_id)) == [running["id"]], "a running export keeps its slot"
    assert list(jobs.stores_with_slot_holders()) == [store.store_id]

    running_gate.release.set()
    assert admin.wait_for_job(running["id"])["attributes"]["status"] == "success"
    deadline = time.monotonic() + 10  # the last step gives the slot back just after recording success
    while jobs.slot_holders(store.store_id) or list(jobs.stores_with_slot_holders()):
        assert time.monotonic() < deadline, "a store without holders leaves the index"
        time.sleep(0.05)


def test_a_closed_job_cannot_take_a_slot(stack: EmbeddedStack, store: Store) -> None:
    jobs = JobsTable(stack.refs["JobsTable"])
    now = format_timestamp(datetime.now(UTC))
    job = Job(id=uuid7(), store_id=store.store_id, created_at=now, updated_at=now)
    jobs.create(job)
    jobs.transition(store.store_id, job.id, "cancelled", completed_at=now, updated_at=now)
    with pytest.raises(JobClosed):
        jobs.take_slot(store.store_id, job.id, limit=1, now=now)
    assert jobs.slot_holders(store.store_id) == {}
