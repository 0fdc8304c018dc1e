"""Whole workflow steps failing, through the template's state machine: a Lambda running out of time,
the planner failing, the last step failing. Every job still ends final, says why at /errors, and
leaves neither objects nor open uploads behind; no export slot stays taken."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.lambdas import FunctionTimedOut
from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from local.template import Template, _logical_of
from product_export.adapters.jobs_table import JobsTable
from product_export.adapters.workflow import ExportWorkflow
from product_export.export.planner import shard_groups
from product_export.export.service import part_key
from tests.support import (
    ApiClient,
    bucket_state,
    exported_rows,
    load_event,
    product,
    slots_given_back,
)

pytestmark = pytest.mark.workflow
Intercept = Callable[[Any, Any, Callable[[Any], Any]], Any]


def _errors(admin: ApiClient, job_id: str) -> list[str]:
    return [e["attributes"]["message"] for e in admin.get(f"/pcm/jobs/{job_id}/errors").json()["data"]]


def _killed_writer_leftover(stack: EmbeddedStack, store: Store, job_id: str, number: int) -> None:
    """What a part writer killed by its time limit leaves: an open multipart upload with a chunk."""
    s3, bucket = stack.client("s3"), stack.environment()["PARTS_BUCKET"]
    key = part_key(JobsTable(stack.refs["JobsTable"]).get(store.store_id, job_id), number)
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"id,name\r\nhalf a row,")


@pytest.mark.stack_parameters(PartSize=2)
def test_a_part_writer_out_of_time_gets_one_more_try(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    ids = {admin.create_product(product(n))["id"] for n in range(1, 6)}
    calls: Counter[tuple[str, int]] = Counter()  # (job, first shard of the group)
    mode = {"once": True}

    def writer(event: Any, context: Any, call_real: Callable[[Any], Any]) -> Any:
        job_id, number = event["job_id"], event["part"]["number"]
        calls[(job_id, number)] += 1
        if mode["once"] and number == 2 and calls[(job_id, number)] == 1:
            _killed_writer_leftover(stack, store, job_id, number)
            raise FunctionTimedOut(900)
        if not mode["once"] and number == 1:
            raise FunctionTimedOut(900)
        return call_real(event)

    stack.dispatcher.intercept("WritePartFunction", writer)

    # Out of time once: retried, and the killed attempt's upload is aborted.
    job = admin.wait_for_job(admin.export()["id"], timeout=60)
    assert job["attributes"]["status"] == "success", _errors(admin, job["id"])
    assert calls[(job["id"], 2)] == 2
    rows = [row["id"] for row in exported_rows(job)]
    assert sorted(rows) == sorted(ids), "each product exactly once"
    keys, uploads = bucket_state(stack, store.store_id, job["id"])
    assert uploads == [], "the killed writer's upload is aborted"
    assert [key for key in keys if key.endswith(".csv")] == sorted(
        part_key(JobsTable(stack.refs["JobsTable"]).get(store.store_id, job["id"]), n) for n in (1, 2, 3)
    )

    # Out of time twice: the part fails, readably, and nothing is left.
    mode["once"] = False
    job = admin.wait_for_job(admin.export()["id"], timeout=60)
    assert job["attributes"]["status"] == "failed"
    assert calls[(job["id"], 1)] == 2, "one more try, not more"
    assert _errors(admin, job["id"]) == [
        "Part 1 failed: the step ran out of time (timed out after 900.00 seconds)"
    ]
    assert job["meta"]["file_locations"] is None
    assert bucket_state(stack, store.store_id, job["id"]) == ([], [])
    assert slots_given_back(stack, store.store_id)


def test_the_planner_failing_fails_the_job_and_leaves_no_plan(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    for n in range(1, 9):
        admin.create_product(product(n))
    calls: Counter[tuple[str, int]] = Counter()  # (job, first shard of the group)
    combined: Counter[str] = Counter()

    def group_planner(event: Any, context: Any, call_real: Callable[[Any], Any]) -> Any:
        first = event["shards"][0]
        calls[(event["job_id"], first)] += 1
        if first == 12:
            raise FunctionTimedOut(900)
        if first == 44:
            call_real(event)  # its group file is stored, then the step fails
            raise RuntimeError("catalogue unreadable")
        return call_real(event)

    stack.dispatcher.intercept("PlanShardGroupFunction", group_planner)

    # Two group planners fail (one out of time, one with an error): every planner ends, none is
    # tried again (planning the same shards again would fail the same way), the job fails with both
    # reasons and no group file is left.
    job = admin.wait_for_job(admin.export()["id"], timeout=60)
    assert job["attributes"]["status"] == "failed"
    firsts = {group[0] for group in shard_groups()}
    assert {first for (job_id, first) in calls if job_id == job["id"]} == firsts
    assert calls[(job["id"], 12)] == calls[(job["id"], 44)] == 1
    assert _errors(admin, job["id"]) == [
        "Export failed: ShardPlanningFailed: shards 12-13 could not be planned: the step ran out of "
        "time (timed out after 900.00 seconds); shards 44-45 could not be planned: RuntimeError: "
        "catalogue unreadable"
    ]
    assert job["meta"]["file_locations"] is None
    assert bucket_state(stack, store.store_id, job["id"]) == ([], []), "no group file is left"
    assert slots_given_back(stack, store.store_id)

    # A permanent error after the plan and the part list were stored: failed at once, both removed.
    stack.dispatcher.clear_intercepts()

    def combiner(event: Any, context: Any, call_real: Callable[[Any], Any]) -> Any:
        combined[event["job_id"]] += 1
        call_real(event)
        raise RuntimeError("jobs table unreachable")

    stack.dispatcher.intercept("CombinePlanFunction", combiner)
    job = admin.wait_for_job(admin.export()["id"], timeout=60)
    assert job["attributes"]["status"] == "failed"
    assert combined[job["id"]] == 1, "a permanent error is not retried"
    assert _errors(admin, job["id"]) == ["Export failed: RuntimeError: jobs table unreachable"]
    assert job["meta"]["file_locations"] is None
    left = bucket_state(stack, store.store_id, job["id"])
    assert left == ([], []), "plan.json and plan/parts.json are gone"
    assert slots_given_back(stack, store.store_id)


def test_the_last_step_failing_is_retried_then_recorded(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    admin.create_product(product(1))
    calls: Counter[str] = Counter()
    mode = {"always": False}

    def finalize(event: Any, context: Any, call_real: Callable[[Any], Any]) -> Any:
        calls[event["job_id"]] += 1
        if event["outcome"] == "written" and (mode["always"] or calls[event["job_id"]] == 1):
            raise RuntimeError("jobs table unreachable")
        return call_real(event)

    stack.dispatcher.intercept("FinalizeExportFunction", finalize)

    # Once: recording the outcome is tried again, and the export succeeds.
    job = admin.wait_for_job(admin.export()["id"], timeout=60)
    assert job["attributes"]["status"] == "success"
    assert calls[job["id"]] == 2
    assert len(job["meta"]["file_locations"]) == 1

    # Every time: after its tries, the failure is recorded (by the failure step) and the parts go.
    mode["always"] = True
    job = admin.wait_for_job(admin.export()["id"], timeout=60)
    assert job["attributes"]["status"] == "failed"
    assert _errors(admin, job["id"]) == ["Export failed: RuntimeError: jobs table unreachable"]
    assert job["meta"]["file_locations"] is None
    assert bucket_state(stack, store.store_id, job["id"]) == ([], [])
    assert slots_given_back(stack, store.store_id)


def test_the_last_step_broken_for_good_still_ends_the_job(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    admin.create_product(product(1))

    def broken(event: Any, context: Any, call_real: Callable[[Any], Any]) -> Any:
        raise RuntimeError("finalizer broken")

    stack.dispatcher.intercept("FinalizeExportFunction", broken)
    job_id = admin.export()["id"]
    ended = stack.wait_for_execution(
        ExportWorkflow(stack.refs["ExportStateMachine"]).execution_arn(job_id), timeout=60
    )
    assert ended["status"] == "FAILED"
    assert admin.get(f"/pcm/jobs/{job_id}").json()["data"]["attributes"]["status"] == "started"

    # EventBridge hands the execution's status change to the reconciler.
    event = load_event("reconcile_exports-execution-timed-out.json")
    event["detail"].update(
        executionArn=ended["executionArn"], name=job_id, status=ended["status"], input=ended["input"]
    )
    assert json.loads(ended["input"]) == {"store_id": store.store_id, "job_id": job_id}
    assert stack.dispatcher.invoke("ReconcileExportsFunction", event) == {
        "job_id": job_id,
        "status": "failed",
    }

    job = admin.get(f"/pcm/jobs/{job_id}").json()["data"]
    assert job["attributes"]["status"] == "failed" and job["attributes"]["completed_at"]
    assert _errors(admin, job_id) == ["Export failed: The export's workflow failed without recording why"]
    assert bucket_state(stack, store.store_id, job_id) == ([], []), "its part is removed"
    assert slots_given_back(stack, store.store_id)
    assert list(JobsTable(stack.refs["JobsTable"]).open_jobs(created_before="9999")) == [], (
        "no job is left pending or started"
    )


def _task_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for inner in (
            (state.get("ItemProcessor") or state.get("Iterator") or {}).get("States", {}),
            *(branch["States"] for branch in state.get("Branches", [])),
        ):
            yield from _task_states(inner)


def test_every_task_gives_its_lambda_time_to_time_out_first() -> None:
    """Each Task waits a little longer than its function may run, so a function out of time is
    reported as such (and a retry never starts beside a writer still running)."""
    template = Template.load()
    machine = template.state_machine()
    assert machine is not None and machine.definition_path is not None
    functions = {name: _logical_of(value) for name, value in machine.substitutions.items()}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return functions[name] if name.endswith("FunctionArn") else "1"

    text = machine.definition_path.read_text(encoding="utf-8")
    definition = json.loads(re.sub(r"\$\{(\w+)\}", substitute, text))
    tasks = dict(_task_states(definition["States"]))
    assert set(tasks) == {
        "AcquireSlot",
        "PlanExport",
        "PlanShardGroup",
        "CombinePlan",
        "WritePart",
        "FinalizeExport",
        "RecordFailure",
    }
    for name, state in tasks.items():
        function = template.function(state["Parameters"]["FunctionName"])
        assert state["TimeoutSeconds"] > function.timeout, name
