"""The jobs API: list, get, errors, cancel; and the workflow functions' sample events."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.adapters.products_table import PLANNING_INDEX
from product_export.catalogue.models import SHARD_COUNT
from tests.support import ApiClient, Gate, load_event, product


def _job_status(admin: ApiClient, job_id: str) -> str:
    return str(admin.get(f"/pcm/jobs/{job_id}").json()["data"]["attributes"]["status"])


def _wait_until(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_shopper_token_is_forbidden_on_export_and_jobs(shopper: ApiClient) -> None:
    for method, path in [
        ("POST", "/pcm/products/export"),
        ("GET", "/pcm/jobs"),
        ("GET", "/pcm/jobs/x"),
        ("GET", "/pcm/jobs/x/errors"),
        ("POST", "/pcm/jobs/x/cancel"),
    ]:
        response = shopper.request(method, path)
        assert response.status == 403, (method, path)
        assert response.json() == {"errors": [{"status": "403", "title": "Forbidden"}]}


def test_export_answers_201_with_one_pending_job(admin: ApiClient) -> None:
    response = admin.post("/pcm/products/export", query={"filter": "eq(sku,product-1)"})
    assert response.status == 201
    job = response.json()["data"]
    assert job["type"] == "pim-job"
    assert job["attributes"]["type"] == "product-export"
    assert job["attributes"]["status"] == "pending"
    assert job["attributes"]["started_at"] is None and job["attributes"]["completed_at"] is None
    assert job["attributes"]["created_at"].endswith("Z") and len(job["attributes"]["created_at"]) == 24
    assert job["meta"]["file_locations"] is None
    assert job["meta"]["filter"] == "eq(sku,product-1)"
    assert job["meta"]["x_request_id"]
    admin.wait_for_job(job["id"])


def test_export_validation_changes_nothing(admin: ApiClient) -> None:
    cases = [
        ({"filter": "eq(colour,red)"}, None, 400),
        ({"filter": "eq(sku,a"}, None, 400),
        ({"useTemplateSlugs": "maybe"}, None, 400),
        ({}, {"data": {"type": "product-export", "attributes": {"columns": {"include": ["colour"]}}}}, 422),
        (
            {},
            {"data": {"type": "product-export", "attributes": {"columns": {"include": "description"}}}},
            422,
        ),
        ({}, {"data": {"type": "other"}}, 422),
    ]
    for query, body, status in cases:
        response = admin.post("/pcm/products/export", query=query, json_body=body)
        assert response.status == status, (query, body, response.body)
        assert response.json()["errors"][0]["status"] == str(status)
    assert admin.get("/pcm/jobs").json()["meta"]["results"]["total"] == 0


def test_list_is_newest_first_paginated_with_total(admin: ApiClient) -> None:
    ids = [admin.export()["id"] for _ in range(4)]
    listed = admin.get("/pcm/jobs").json()
    assert [job["id"] for job in listed["data"]] == ids[::-1]
    assert listed["meta"]["results"]["total"] == 4
    page = admin.get("/pcm/jobs", query={"page[limit]": "2", "page[offset]": "1"}).json()
    assert [job["id"] for job in page["data"]] == ids[::-1][1:3]
    assert page["meta"]["results"]["total"] == 4
    assert admin.get("/pcm/jobs", query={"page[limit]": "101"}).status == 400
    for job_id in ids:
        admin.wait_for_job(job_id)


def test_file_locations_are_signed_afresh_on_every_read(admin: ApiClient) -> None:
    admin.create_product(product(1))
    job = admin.wait_for_job(admin.export()["id"])
    first = job["meta"]["file_locations"]
    time.sleep(1.1)
    second = admin.get(f"/pcm/jobs/{job['id']}").json()["data"]["meta"]["file_locations"]
    assert len(first) == len(second) == 1
    assert first != second, "a new signature per read"
    assert "Expires=3600" in second[0] or "X-Amz-Expires=3600" in second[0]


def test_other_stores_jobs_are_404(stack: EmbeddedStack, admin: ApiClient, other_store: Store) -> None:
    job = admin.export()
    theirs = ApiClient(stack, other_store.admin_token)
    assert theirs.get(f"/pcm/jobs/{job['id']}").status == 404
    assert theirs.get(f"/pcm/jobs/{job['id']}/errors").status == 404
    assert theirs.post(f"/pcm/jobs/{job['id']}/cancel").status == 404
    assert theirs.get("/pcm/jobs").json()["meta"]["results"]["total"] == 0
    admin.wait_for_job(job["id"])


def test_cancel_pending_job_stops_it(stack: EmbeddedStack, admin: ApiClient) -> None:
    gate = Gate(stack, "PlanExportFunction")
    job = admin.export()
    assert gate.entered.wait(30)
    assert _job_status(admin, job["id"]) == "pending"
    cancelled = admin.post(f"/pcm/jobs/{job['id']}/cancel")
    assert cancelled.status == 200
    assert cancelled.json()["data"]["attributes"]["status"] == "cancelled"
    assert cancelled.json()["data"]["attributes"]["completed_at"]
    again = admin.post(f"/pcm/jobs/{job['id']}/cancel")
    assert again.status == 200 and again.json()["data"]["attributes"]["status"] == "cancelled"
    gate.release.set()
    time.sleep(0.5)
    assert _job_status(admin, job["id"]) == "cancelled"
    errors = admin.get(f"/pcm/jobs/{job['id']}/errors").json()
    assert errors["meta"]["results"]["total"] == 0, "a cancelled job reports no failure"


def test_cancel_started_export_removes_its_parts(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    admin.create_product(product(1))
    gate = Gate(stack, "WritePartFunction")
    job = admin.export()
    assert gate.entered.wait(30)
    assert _job_status(admin, job["id"]) == "started"
    assert admin.post(f"/pcm/jobs/{job['id']}/cancel").json()["data"]["attributes"]["status"] == "cancelled"
    gate.release.set()
    time.sleep(0.5)
    s3 = stack.client("s3")
    listing = s3.list_objects_v2(
        Bucket=stack.environment()["PARTS_BUCKET"], Prefix=f"{store.store_id}/{job['id']}/"
    )
    assert listing.get("KeyCount", 0) == 0
    assert admin.get(f"/pcm/jobs/{job['id']}").json()["data"]["meta"]["file_locations"] is None


def test_cancel_finished_job_is_422(admin: ApiClient) -> None:
    job = admin.wait_for_job(admin.export()["id"])
    assert job["attributes"]["status"] == "success"
    response = admin.post(f"/pcm/jobs/{job['id']}/cancel")
    assert response.status == 422
    assert "success" in response.json()["errors"][0]["detail"]


@pytest.mark.stack_parameters(PartSize=1)
def test_errors_are_paginated(stack: EmbeddedStack, store: Store, admin: ApiClient) -> None:
    for number in range(1, 5):
        admin.create_product(product(number))

    def always_fails(event: Any, context: Any, call_real: Any) -> Any:
        raise RuntimeError(f"broken part {event['part']['number']}")

    stack.dispatcher.intercept("WritePartFunction", always_fails)
    job = admin.export()
    done = admin.wait_for_job(job["id"])
    assert done["attributes"]["status"] == "failed"
    everything = admin.get(f"/pcm/jobs/{job['id']}/errors").json()
    assert everything["meta"]["results"]["total"] == 4
    assert [e["attributes"]["message"] for e in everything["data"]] == [
        f"Part {n} failed: RuntimeError: broken part {n}" for n in range(1, 5)
    ]
    page = admin.get(f"/pcm/jobs/{job['id']}/errors", query={"page[limit]": "2", "page[offset]": "2"}).json()
    assert page["data"] == everything["data"][2:]
    assert page["meta"]["results"]["total"] == 4


def test_sample_events_drive_the_workflow_functions(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    """events/ samples for the jobs API and the workflow steps, each run against the stack."""
    for number in range(1, 4):
        admin.create_product(product(number))
    export_event = load_event("jobs_api-export.json")
    export_event["requestContext"]["authorizer"]["store_id"] = store.store_id
    created = stack.dispatcher.invoke("JobsApiFunction", export_event)
    assert created["statusCode"] == 201, created["body"]
    job_id = json.loads(created["body"])["data"]["id"]
    admin.wait_for_job(job_id)

    get_event = load_event("jobs_api-get-job.json")
    get_event["requestContext"]["authorizer"]["store_id"] = store.store_id
    get_event["pathParameters"]["id"] = job_id
    get_event["path"] = f"/pcm/jobs/{job_id}"
    fetched = stack.dispatcher.invoke("JobsApiFunction", get_event)
    assert json.loads(fetched["body"])["data"]["attributes"]["status"] == "success"

    # Replay the workflow steps by hand on a fresh job, from the sample events.
    job_id = admin.post("/pcm/products/export", query={"filter": "eq(status,live)"}).json()["data"]["id"]
    admin.wait_for_job(job_id)
    stack.client("dynamodb").update_item(
        TableName=stack.environment()["JOBS_TABLE"],
        Key={"pk": {"S": store.store_id}, "sk": {"S": f"job#{job_id}"}},
        UpdateExpression="SET #s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": "pending"}},
    )
    plan_event = {**load_event("plan_export.json"), "store_id": store.store_id, "job_id": job_id}
    groups = stack.dispatcher.invoke("PlanExportFunction", plan_event)["groups"]
    assert sorted(shard for group in groups for shard in group) == list(range(SHARD_COUNT))
    group_event = {**load_event("plan_shard_group.json"), "store_id": store.store_id, "job_id": job_id}
    invoke = stack.dispatcher.invoke
    planned = [invoke("PlanShardGroupFunction", {**group_event, "shards": g}) for g in groups]
    assert sum(group["products"] for group in planned) == 2  # products 1 and 3 are live
    assert {group["source"] for group in planned} == {PLANNING_INDEX}  # status is in the index
    combine_event = {**load_event("combine_plan.json"), "store_id": store.store_id, "job_id": job_id}
    # Summaries that do not match the stored group files would lose rows: refused.
    merged = {"shards": [*groups[0], *groups[1]], "products": 0, "full_parts": 0}
    with pytest.raises(ValueError, match="holds shards"):
        invoke("CombinePlanFunction", {**combine_event, "groups": [merged, *combine_event["groups"][2:]]})
    plan = stack.dispatcher.invoke("CombinePlanFunction", combine_event)
    assert (plan["products"], plan["parts"]) == (2, 1)
    assert plan["parts_key"] == f"{store.store_id}/{job_id}/plan/parts.json"
    write_event = {**load_event("write_part.json"), "store_id": store.store_id, "job_id": job_id}
    written = stack.dispatcher.invoke("WritePartFunction", write_event)
    assert written["rows"] == 2
    finalize_event = {
        **load_event("finalize_export-written.json"),
        "store_id": store.store_id,
        "job_id": job_id,
        "parts": [written],
    }
    assert stack.dispatcher.invoke("FinalizeExportFunction", finalize_event) == {"status": "success"}
    failed_event = {**load_event("finalize_export-failed.json"), "store_id": store.store_id, "job_id": job_id}
    assert stack.dispatcher.invoke("FinalizeExportFunction", failed_event) == {"status": "success"}, (
        "a finished job keeps its final status"
    )


def test_steps_of_a_cancelled_job_stop_without_reporting_a_failure(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    gate = Gate(stack, "PlanExportFunction")
    job = admin.export()
    assert gate.entered.wait(30)
    assert admin.post(f"/pcm/jobs/{job['id']}/cancel").status == 200
    gate.release.set()
    step = {"store_id": store.store_id, "job_id": job["id"]}
    stack.dispatcher.clear_intercepts()
    with pytest.raises(Exception, match="is cancelled"):
        stack.dispatcher.invoke("PlanExportFunction", step)
    failure = {"Error": "JobNotRunning", "Cause": '{"errorMessage": "Job is cancelled"}'}
    outcome = stack.dispatcher.invoke(
        "FinalizeExportFunction", {**step, "outcome": "failed", "failure": failure}
    )
    assert outcome == {"status": "cancelled"}
    assert admin.get(f"/pcm/jobs/{job['id']}/errors").json()["meta"]["results"]["total"] == 0
