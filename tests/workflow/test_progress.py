"""Live progress through the template's state machine: ``meta.progress`` of a running export, read
through the jobs API while the workflow is held between parts or inside a part; retried parts count
once; a writer notices a cancelled job at its next progress write."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.adapters.products_table import ProductsTable
from product_export.catalogue import service as catalogue_service
from tests.support import ApiClient, product

pytestmark = pytest.mark.workflow
WAIT = 30


def progress_of(admin: ApiClient, job_id: str) -> tuple[str, dict[str, Any] | None]:
    job = admin.get(f"/pcm/jobs/{job_id}").json()["data"]
    return job["attributes"]["status"], job["meta"]["progress"]


def expect(planned: int, written: int, parts: int, done: int) -> dict[str, int]:
    return {
        "products_planned": planned,
        "products_written": written,
        "parts_planned": parts,
        "parts_done": done,
    }


class HeldWriterStream:
    """Holds the part writers' product stream (writer queries carry no projection) once ``after``
    products have been handed out, until released; then, if told, fails that attempt with a
    throttling error (transient: the state machine retries the part)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, after: int, then_throttle: bool = False) -> None:
        self.after = after
        self.then_throttle = then_throttle
        self.handed = 0
        self.held = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        real = ProductsTable.query
        # One range at a time, as before read-ahead: then the products a query hands out are the
        # ones the writer took, which is what these tests count.
        monkeypatch.setattr(catalogue_service, "RANGES_AT_ONCE", 1)

        def query(table: ProductsTable, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
            if kwargs.get("attributes") is not None:
                yield from real(table, *args, **kwargs)
                return
            for item in real(table, *args, **kwargs):
                self._before_next()
                yield item

        monkeypatch.setattr(ProductsTable, "query", query)

    def _before_next(self) -> None:
        with self._lock:
            hold = self.handed == self.after and not self.held.is_set()
            if not hold:
                self.handed += 1
                return
        self.held.set()
        assert self.release.wait(WAIT)
        if self.then_throttle:
            error = {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}
            raise ClientError({"Error": error}, "Query")
        with self._lock:
            self.handed += 1


@pytest.mark.stack_parameters(PartSize=5)
def test_progress_is_visible_between_parts(stack: EmbeddedStack, store: Store, admin: ApiClient) -> None:
    for n in range(1, 17):
        admin.create_product(product(n))
    first_done, release = threading.Event(), threading.Event()

    def hold_after_part_one(event: Any, context: Any, call_real: Any) -> Any:
        if event["part"]["number"] == 1:
            result = call_real(event)
            first_done.set()
            return result
        assert release.wait(WAIT)
        return call_real(event)

    stack.dispatcher.intercept("WritePartFunction", hold_after_part_one)
    job_id = admin.export()["id"]
    assert first_done.wait(WAIT)
    assert progress_of(admin, job_id) == ("started", expect(16, 5, 4, 1))
    release.set()
    job = admin.wait_for_job(job_id)
    assert job["attributes"]["status"] == "success"
    assert job["meta"]["progress"] == expect(16, 16, 4, 4)


@pytest.mark.stack_parameters(PartSize=10, ProgressIntervalSeconds=0)
def test_progress_inside_a_part_and_a_retried_part_counts_once(
    stack: EmbeddedStack, store: Store, admin: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(1, 9):
        admin.create_product(product(n))
    stream = HeldWriterStream(monkeypatch, after=3, then_throttle=True)
    job_id = admin.export()["id"]
    assert stream.held.wait(WAIT)
    assert progress_of(admin, job_id) == ("started", expect(8, 3, 1, 0)), "3 products handed out"
    stream.release.set()  # that attempt fails; the retry writes the whole part again
    job = admin.wait_for_job(job_id)
    assert job["attributes"]["status"] == "success"
    assert stream.handed == 3 + 8, "the part was written twice"
    assert job["meta"]["progress"] == expect(8, 8, 1, 1), "the retry replaced the first attempt's count"
    assert job["meta"]["products"] == 8


@pytest.mark.stack_parameters(PartSize=10, ProgressIntervalSeconds=0)
def test_a_part_writer_stops_at_its_next_progress_write_once_the_job_is_cancelled(
    stack: EmbeddedStack, store: Store, admin: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(1, 9):
        admin.create_product(product(n))
    stream = HeldWriterStream(monkeypatch, after=2)
    outcome: list[BaseException] = []
    finished = threading.Event()

    def watch(event: Any, context: Any, call_real: Any) -> Any:
        try:
            return call_real(event)
        except BaseException as error:
            outcome.append(error)
            raise
        finally:
            finished.set()

    stack.dispatcher.intercept("WritePartFunction", watch)
    job_id = admin.export()["id"]
    assert stream.held.wait(WAIT)
    assert admin.post(f"/pcm/jobs/{job_id}/cancel").status == 200
    stream.release.set()
    assert finished.wait(WAIT)
    assert [type(error).__name__ for error in outcome] == ["JobStopped"]
    assert stream.handed == 3, "the writer stopped at the product after the cancel"
    status, progress = progress_of(admin, job_id)
    assert status == "cancelled" and progress == expect(8, 2, 1, 0)
    listing = stack.client("s3").list_objects_v2(
        Bucket=stack.environment()["PARTS_BUCKET"], Prefix=f"{store.store_id}/{job_id}/"
    )
    assert listing.get("KeyCount", 0) == 0


def test_progress_is_null_until_planned(stack: EmbeddedStack, store: Store, admin: ApiClient) -> None:
    admin.create_product(product(1))
    entered, release = threading.Event(), threading.Event()

    def hold_planner(event: Any, context: Any, call_real: Any) -> Any:
        entered.set()
        assert release.wait(WAIT)
        return call_real(event)

    stack.dispatcher.intercept("PlanExportFunction", hold_planner)
    job_id = admin.export()["id"]
    assert entered.wait(WAIT)
    assert progress_of(admin, job_id)[1] is None
    release.set()
    assert admin.wait_for_job(job_id)["meta"]["progress"] == expect(1, 1, 1, 1)
