"""Faults injected below the real handlers, run through the template's state machine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.adapters.parts_bucket import MultipartUpload
from product_export.adapters.products_table import ProductsTable
from tests.support import ApiClient, bucket_state, exported_rows, product

pytestmark = pytest.mark.workflow


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, "Query")


def _fail_first_query_of_writer(monkeypatch: pytest.MonkeyPatch, code: str, times: int) -> list[int]:
    """The part writer's first ``times`` queries (projection-less: planner queries project) raise ``code``."""
    real = ProductsTable.query
    raised: list[int] = []
    lock = threading.Lock()

    def flaky(self: ProductsTable, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        if kwargs.get("attributes") is None:
            with lock:
                if len(raised) < times:
                    raised.append(1)
                    raise _client_error(code)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ProductsTable, "query", flaky)
    return raised


@pytest.mark.stack_parameters(PartSize=3)
def test_throttling_is_retried_and_every_row_lands_once(
    stack: EmbeddedStack, store: Store, admin: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = {admin.create_product(product(n))["id"] for n in range(1, 8)}
    raised = _fail_first_query_of_writer(monkeypatch, "ProvisionedThroughputExceededException", times=2)
    job = admin.wait_for_job(admin.export()["id"])
    assert raised == [1, 1]
    assert job["attributes"]["status"] == "success"
    rows = [row["id"] for row in exported_rows(job)]
    assert sorted(rows) == sorted(ids), "each product exactly once"
    keys, uploads = bucket_state(stack, store.store_id, job["id"])
    parts = [key for key in keys if key.endswith(".csv")]
    assert len(parts) == 3 and uploads == [], (
        keys,
        uploads,
        "retried parts leave no duplicate file and no open upload",
    )
    assert sorted(keys) == sorted([*parts, f"{store.store_id}/{job['id']}/manifest.json"]), (
        "the parts and the manifest, nothing else"
    )
    assert admin.get(f"/pcm/jobs/{job['id']}/errors").json()["meta"]["results"]["total"] == 0


def test_a_permanent_error_fails_the_job_without_retrying(
    stack: EmbeddedStack, store: Store, admin: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.create_product(product(1))
    raised = _fail_first_query_of_writer(monkeypatch, "ValidationException", times=5)
    attempts: list[str] = []

    def count(event: Any, context: Any, call_real: Any) -> Any:
        attempts.append(event["job_id"])
        return call_real(event)

    stack.dispatcher.intercept("WritePartFunction", count)
    job = admin.wait_for_job(admin.export()["id"])
    assert job["attributes"]["status"] == "failed"
    # The part spans every shard, whose ranges its writer reads several at once: each reader
    # meets the error, the writer fails once and is not tried again.
    assert raised and attempts == [job["id"]], "not retried"
    message = admin.get(f"/pcm/jobs/{job['id']}/errors").json()["data"][0]["attributes"]["message"]
    assert message.startswith("Part 1 failed: ClientError:") and "ValidationException" in message


@pytest.mark.stack_parameters(PartSize=2)
def test_an_upload_failing_midway_leaves_nothing_behind(
    stack: EmbeddedStack, store: Store, admin: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(1, 6):
        admin.create_product(product(n))
    real_flush = MultipartUpload._flush

    def broken_flush(self: MultipartUpload) -> None:
        if self.key.endswith("_part_2.csv"):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "injected"}}, "UploadPart")
        real_flush(self)

    monkeypatch.setattr(MultipartUpload, "_flush", broken_flush)
    job = admin.wait_for_job(admin.export()["id"])
    assert job["attributes"]["status"] == "failed"
    assert job["meta"]["file_locations"] is None
    keys, uploads = bucket_state(stack, store.store_id, job["id"])
    assert keys == [] and uploads == [], "a failed job keeps no part, complete or partial"
