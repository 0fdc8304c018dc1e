"""Abuse limits: exports per store per hour (429 + Retry-After), request and product sizes (413,
422), and API Gateway throttling from the template's Parameters."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from local.stores import create_store, request_token
from product_export.adapters.jobs_table import JobsTable
from product_export.errors import TooManyRequests
from product_export.export.quota import ExportQuota
from product_export.ids import uuid7_floor, uuid7_millis
from product_export.jobs.models import Job
from product_export.values import now_timestamp
from tests.support import ApiClient

pytestmark = pytest.mark.workflow


@pytest.mark.stack_parameters(ExportsPerStorePerHour=3)
def test_a_store_may_start_so_many_exports_an_hour_then_gets_429_with_retry_after(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    first = admin.post("/pcm/products/export", headers={"Idempotency-Key": "first"})
    started = [first.json()["data"]["id"]] + [admin.export()["id"] for _ in range(2)]
    refused = admin.post("/pcm/products/export")
    assert refused.status == 429
    (error,) = refused.json()["errors"]
    assert error["status"] == "429" and error["title"] == "Too Many Requests"
    assert "3 exports in the last hour" in error["detail"]
    oldest_leaves = uuid7_millis(started[0]) / 1000 + 3600 - time.time()
    assert abs(int(refused.headers["Retry-After"]) - oldest_leaves) <= 2
    assert admin.get("/pcm/jobs").json()["meta"]["results"]["total"] == 3, "the refused request left no job"

    replay = admin.post("/pcm/products/export", headers={"Idempotency-Key": "first"})
    assert replay.status == 201 and replay.json()["data"]["id"] == started[0], "a retry is not a new export"
    other = ApiClient(stack, create_store(stack, "store B").admin_token)
    assert other.post("/pcm/products/export").status == 201, "the cap is per store"
    for job_id in started:
        admin.wait_for_job(job_id)


def _job_created_at(millis: int, store_id: str) -> Job:
    job_id = uuid7_floor(millis)[:-12] + secrets.token_hex(6)
    stamp = now_timestamp()
    return Job(id=job_id, store_id=store_id, created_at=stamp, updated_at=stamp, status="success")


def test_the_window_is_the_last_hour_and_counts_only_the_stores_own_jobs(
    stack: EmbeddedStack, store: Store, other_store: Store
) -> None:
    jobs = JobsTable(stack.refs["JobsTable"])
    now = 1_900_000_000.0
    for seconds_ago in (7200, 3601, 3590, 100, 50):
        jobs.create(_job_created_at(int((now - seconds_ago) * 1000), store.store_id))
    for seconds_ago in (10, 20, 30):
        jobs.create(_job_created_at(int((now - seconds_ago) * 1000), other_store.store_id))
    clock = [now]
    quota = ExportQuota(jobs, 3, clock=lambda: clock[0])
    with pytest.raises(TooManyRequests) as refused:
        quota.check(store.store_id)
    assert refused.value.retry_after == 10, "the job of 3590 s ago leaves the window in 10 s"
    clock[0] = now + 11
    quota.check(store.store_id)  # two in the window now: allowed
    ExportQuota(jobs, 4, clock=lambda: now).check(store.store_id)
    ExportQuota(jobs, 0, clock=lambda: now).check(store.store_id)  # 0: no cap


def _product(**attributes: object) -> dict[str, object]:
    return {
        "data": {"type": "product", "attributes": {"name": "n", "commodity_type": "physical", **attributes}}
    }


def test_request_bodies_over_512_kib_are_413_before_parsing(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    big = "x" * (512 * 1024)
    for path, body in (
        ("/pcm/products", json.dumps(_product(sku="big", description=big))),
        ("/pcm/products/export", json.dumps({"data": {"type": "product-export", "pad": big}})),
        ("/pcm/products", "{" * (600 * 1024)),  # never parsed, so no parser runs out of stack either
    ):
        response = admin.post(path, body=body, headers={"Content-Type": "application/json"})
        assert response.status == 413, (path, response.body[:200])
        (error,) = response.json()["errors"]
        assert error["title"] == "Payload Too Large" and "524288 bytes" in error["detail"]
    token = request_token(stack, {"grant_type": "implicit", "client_id": store.client_id, "pad": big})
    assert token.status == 413
    assert admin.get("/pcm/products").json()["data"] == [], "nothing was created"


def test_oversized_products_and_attributes_are_422_naming_the_field(admin: ApiClient) -> None:
    cases = [
        (
            _product(sku="a", admin_attributes={"cost": "x" * 65_537}),
            "/data/attributes/admin_attributes/cost",
        ),
        (
            _product(sku="b", shopper_attributes={f"k{i}": "v" for i in range(201)}),
            "/data/attributes/shopper_attributes",
        ),
        (
            _product(sku="c", extensions={"products(t)": {"f": "x" * 65_537}}),
            "/data/attributes/extensions/products(t)/f",
        ),
        (
            _product(sku="d", extensions={f"products(t{i})": {"f": 1} for i in range(51)}),
            "/data/attributes/extensions",
        ),
        (_product(sku="e", locales={"en": {"name": "x" * 65_537}}), "/data/attributes/locales/en/name"),
        (_product(sku="f", description="x" * 65_537), "/data/attributes/description"),
    ]
    for body, pointer in cases:
        response = admin.post("/pcm/products", json_body=body)
        assert response.status == 422, (pointer, response.body[:300])
        (error,) = response.json()["errors"]
        assert error["source"]["pointer"].startswith(pointer), (pointer, error)
    # Within every per-field limit but too large for one stored item (DynamoDB's 400 KB).
    whole = _product(sku="g", admin_attributes={f"k{i}": "x" * 60_000 for i in range(7)})
    response = admin.post("/pcm/products", json_body=whole)
    assert response.status == 422, response.body[:300]
    assert "cannot be stored" in response.json()["errors"][0]["detail"]
    assert admin.get("/pcm/products").json()["data"] == [], "nothing was created"
    fits = admin.post("/pcm/products", json_body=_product(sku="h", admin_attributes={"cost": "x" * 65_536}))
    assert fits.status == 201


def test_api_throttling_comes_from_the_parameters_and_answers_a_json_429(stack: EmbeddedStack) -> None:
    api = stack.template.resources["ExportApi"]["Properties"]
    (settings,) = stack.resolve(api["MethodSettings"])
    assert settings == {
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "ThrottlingRateLimit": stack.parameters["ApiThrottlingRateLimit"],
        "ThrottlingBurstLimit": stack.parameters["ApiThrottlingBurstLimit"],
    }
    assert (stack.parameters["ApiThrottlingRateLimit"], stack.parameters["ApiThrottlingBurstLimit"]) == (
        "50",
        "100",
    )
    throttled = stack.resolve(api["GatewayResponses"])["THROTTLED"]
    assert throttled["StatusCode"] == 429
    assert json.loads(throttled["ResponseTemplates"]["application/json"]) == {
        "errors": [{"status": "429", "title": "Too Many Requests"}]
    }
