"""Least privilege, checked by running the code: every AWS call each function makes, through every
path of the service (success, cancel, failure, reconciliation), must be allowed by that function's
role as SAM generates it from template.yaml, and every permission a role grants must be used.

Without an AWS account the roles are never exercised for real; this is the check that a tightened
policy still covers the code (a missing permission is an AccessDenied in production) and that no
permission is left over (``Policies`` naming actions the code never calls).
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from local.stores import request_token
from product_export.adapters import signing_key
from product_export.adapters.jobs_table import JobsTable
from product_export.adapters.parts_bucket import MultipartUpload
from product_export.ids import uuid7
from product_export.jobs.models import Job
from product_export.values import format_timestamp
from tests.security.aws_calls import Call, CallRecorder, RolePolicies, required
from tests.support import ApiClient, load_event, product
from tools.sam_translate import translate

pytestmark = pytest.mark.workflow

# Calls made through presigned links, not by the function: the signer needs the permission.
SIGNED_LINKS = {"JobsApiFunction": [("s3:GetObject", "{bucket}/{store}/{job}/part.csv")]}
# Grants the flow below cannot reach, each with why it is still needed.
UNREACHED: dict[str, dict[str, str]] = {
    "JobsApiFunction": {
        "IdempotencyRecords:dynamodb:GetItem": "Powertools reads the record itself when a failed "
        "conditional put does not return it (ReturnValuesOnConditionCheckFailure missing)",
    },
}


def _exercise_everything(stack: EmbeddedStack, store: Store, recorder: CallRecorder) -> dict[str, str]:
    """Every route and workflow path once; returns names the expectations need."""
    signing_key._provider.cache_clear()  # the signing key is read, not served from an earlier cache
    for form in (
        {
            "grant_type": "client_credentials",
            "client_id": store.client_id,
            "client_secret": store.client_secret,
        },
        {"grant_type": "implicit", "client_id": store.client_id},
    ):
        assert request_token(stack, form).status == 200
    signing_key._provider.cache_clear()  # each function has its own container (and cache) on AWS
    stack.api.flush_authorizer_cache()  # type: ignore[union-attr]
    admin = ApiClient(stack, store.admin_token)
    shopper = ApiClient(stack, store.shopper_token)
    created = [admin.create_product(product(n)) for n in range(1, 4)]
    assert admin.get(f"/pcm/products/{created[0]['id']}").status == 200
    assert (
        admin.put(
            f"/pcm/products/{created[0]['id']}",
            json_body={"data": {"type": "product", "attributes": {"name": "Renamed"}}},
        ).status
        == 200
    )
    assert admin.delete(f"/pcm/products/{created[2]['id']}").status == 204
    assert admin.get("/pcm/products", query={"filter": "eq(status,live)"}).status == 200
    assert shopper.get("/pcm/products").status == 200

    done = admin.wait_for_job(admin.export(body=None)["id"])
    assert done["attributes"]["status"] == "success"
    assert admin.get("/pcm/jobs").status == 200
    delta = admin.post("/pcm/products/export", query={"since": "last-success"})
    assert delta.status == 201, delta.body
    assert admin.wait_for_job(delta.json()["data"]["id"])["attributes"]["status"] == "success"
    webhook = {"data": {"type": "webhook", "attributes": {"url": "https://hooks.example.com/x"}}}
    assert admin.put("/pcm/settings/webhook", json_body=webhook).status == 200
    assert admin.get("/pcm/settings/webhook").status == 200
    assert admin.delete("/pcm/settings/webhook").status == 204
    stack.dispatcher.invoke("WebhookDeliveryFunction", load_event("webhook_delivery-export-succeeded.json"))
    assert admin.get(f"/pcm/jobs/{done['id']}/errors").status == 200
    keyed = admin.post("/pcm/products/export", headers={"Idempotency-Key": "least-privilege"})
    assert keyed.status == 201, keyed.body
    again = admin.post("/pcm/products/export", headers={"Idempotency-Key": "least-privilege"})
    assert again.json()["data"]["id"] == keyed.json()["data"]["id"]
    admin.wait_for_job(keyed.json()["data"]["id"])
    refused = admin.post(
        "/pcm/products/export", query={"filter": "eq(nope"}, headers={"Idempotency-Key": "refused"}
    )
    assert refused.status == 400  # a refused request frees its key again

    # Cancelled while a part is being written; a second export waits for the store's slot meanwhile.
    entered, release = recorder.hold("WritePartFunction")
    cancelled = admin.export()
    assert entered.wait(30)
    waiting = admin.export()
    assert admin.post(f"/pcm/jobs/{cancelled['id']}/cancel").status == 200
    recorder.hold("WritePartFunction")[1].set()  # no more holding
    release.set()
    admin.wait_for_job(cancelled["id"])
    assert admin.wait_for_job(waiting["id"])["attributes"]["status"] == "success"

    assert admin.wait_for_job(admin.export("like(sku,*)")["id"])["attributes"]["status"] == "success"

    # An upload failing midway: the part aborts, the job fails and its parts are removed, also an
    # upload some crashed writer left open.
    real_flush = MultipartUpload._flush

    def broken_flush(self: MultipartUpload) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "injected"}}, "UploadPart")

    entered, release = recorder.hold("WritePartFunction")
    failing = admin.export()
    assert entered.wait(30)
    _leave_open_upload(stack, store, failing["id"])
    MultipartUpload._flush = broken_flush  # type: ignore[method-assign]
    try:
        recorder.hold("WritePartFunction")[1].set()
        release.set()
        failed = admin.wait_for_job(failing["id"])
    finally:
        MultipartUpload._flush = real_flush  # type: ignore[method-assign]
    assert failed["attributes"]["status"] == "failed"

    # Reconciliation: an execution that timed out, and a job whose execution never started.
    entered, release = recorder.hold("WritePartFunction")
    timed_out = admin.export()
    assert entered.wait(30)
    _leave_open_upload(stack, store, timed_out["id"])
    event = load_event("reconcile_exports-execution-timed-out.json")
    event["detail"]["input"] = json.dumps({"store_id": store.store_id, "job_id": timed_out["id"]})
    stack.dispatcher.invoke("ReconcileExportsFunction", event)
    recorder.hold("WritePartFunction")[1].set()
    release.set()
    old = format_timestamp(datetime.now(UTC) - timedelta(hours=1))
    JobsTable(stack.refs["JobsTable"]).create(
        Job(id=uuid7(), store_id=store.store_id, created_at=old, updated_at=old)
    )
    stack.dispatcher.invoke("ReconcileExportsFunction", load_event("reconcile_exports-schedule.json"))
    time.sleep(0.5)
    return {"job": done["id"]}


def _leave_open_upload(stack: EmbeddedStack, store: Store, job_id: str) -> None:
    stack.client("s3").create_multipart_upload(
        Bucket=stack.environment()["PARTS_BUCKET"], Key=f"{store.store_id}/{job_id}/left-open.csv"
    )


def test_every_call_is_allowed_and_every_grant_is_used(stack: EmbeddedStack, store: Store) -> None:
    recorder = CallRecorder(stack)
    with recorder.recording():
        names = _exercise_everything(stack, store, recorder)
    policies = RolePolicies(translate(), stack)

    used: dict[str, list[tuple[str, str, Call | None]]] = defaultdict(list)
    for call in recorder.calls:
        for action, resource in required(call, stack):
            used[call.function].append((action, resource, call))
    bucket = f"arn:aws:s3:::{stack.environment()['PARTS_BUCKET']}"
    for function, needs in SIGNED_LINKS.items():
        for action, resource in needs:
            filled = resource.format(bucket=bucket, store=store.store_id, job=names["job"])
            used[function].append((action, filled, None))

    denied = sorted(
        {
            f"{function}: {action} on {resource}"
            for function, needs in used.items()
            for action, resource, _ in needs
            if not policies.allows(function, action, resource)
        }
    )
    assert denied == [], "calls the deployed roles would refuse:\n" + "\n".join(denied)

    unused = sorted(
        f"{function}: {sid} grants {action} on {resource}"
        for function in stack.dispatcher.functions
        for sid, action, resource in policies.grants(function)
        if f"{sid}:{action}" not in UNREACHED.get(function, {})
        and not any(
            _covers(action, resource, need_action, need_resource)
            for need_action, need_resource, _ in used[function]
        )
    )
    assert unused == [], "permissions no call uses:\n" + "\n".join(unused)


def _covers(action: str, resource: str, need_action: str, need_resource: str) -> bool:
    return fnmatch.fnmatchcase(need_action.lower(), action.lower()) and fnmatch.fnmatchcase(
        need_resource, resource
    )
