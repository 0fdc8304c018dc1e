"""Consistency under change, through the template's state machine: products are created, updated
and deleted by concurrent writers while an export runs. A product that exists and matches for the
whole export is in it exactly once, no file holds more than PartSize rows, and no row is torn."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.adapters.parts_bucket import PartsBucket
from product_export.adapters.products_table import ProductsTable
from product_export.catalogue.models import ProductDocument
from product_export.catalogue.service import Catalogue
from product_export.export.overflow import OVERFLOW, number_overflow, overflow_key
from product_export.export.service import part_key
from product_export.jobs.models import Job
from tests.support import ApiClient, Gate, parse_csv, product

pytestmark = pytest.mark.workflow
PART_SIZE = 5


def _version(number: int, version: int) -> dict[str, Any]:
    """The product's attributes at a version: name and description carry it, so a row that mixed
    two versions would show two tags."""
    return product(
        number,
        name=f"Product {number}, v{version}",
        description=f'version "{version}",\r\nof {number}',
        status="live",
    )


class Churn(threading.Thread):
    """Keeps updating some products (each update a whole new version) and creating new ones until
    stopped, through the catalogue service the products API runs (the API emulation serves one
    request per function at a time, as a Lambda instance does)."""

    def __init__(self, stack: EmbeddedStack, store: Store, ids: dict[int, str], first_new: int) -> None:
        super().__init__(daemon=True)
        self.store_id, self.ids, self.next_new = store.store_id, ids, first_new
        self.catalogue = Catalogue(ProductsTable(stack.refs["ProductsTable"]))
        self.stop = threading.Event()
        self.created: list[str] = []
        self.updates = 0

    def run(self) -> None:
        version = 2
        while not self.stop.is_set() and version < 8:  # a few rounds: enough to overlap the writes
            version += 1
            for number, product_id in self.ids.items():
                self.catalogue.update(
                    self.store_id, product_id, _document(_version(number, version), product_id)
                )
                self.updates += 1
            new = self.catalogue.create(self.store_id, _document(product(self.next_new, status="live")))
            self.created.append(new["id"])
            self.next_new += 1


def _document(attributes: dict[str, Any], product_id: str | None = None) -> ProductDocument:
    data: dict[str, Any] = {"type": "product", "attributes": attributes}
    if product_id is not None:
        data["id"] = product_id
    return ProductDocument.model_validate({"data": data})


@pytest.mark.stack_parameters(PartSize=PART_SIZE)
def test_an_export_under_concurrent_writes_holds_each_steady_product_once(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    live = lambda n, **extra: admin.create_product({**_version(n, 1), "status": "live", **extra})["id"]  # noqa: E731
    steady = {n: live(n) for n in range(1, 21)}  # exist and match throughout (half get updated)
    doomed = [live(n) for n in range(21, 26)]  # deleted while the export runs
    drafts = {n: admin.create_product({**_version(n, 1), "status": "draft"})["id"] for n in range(26, 32)}
    updated = dict(list(steady.items())[:10])

    # Hold the export between planning (25 products: 5 full parts) and writing its parts.
    gate = Gate(stack, "WritePartFunction")
    job_id = admin.export("eq(status,live)")["id"]
    assert gate.entered.wait(30)

    for product_id in doomed:
        assert admin.delete(f"/pcm/products/{product_id}").status == 204
    for number, product_id in drafts.items():  # start to match: in the parts' ranges, never counted
        body = {
            "data": {
                "type": "product",
                "id": product_id,
                "attributes": {**_version(number, 2), "status": "live"},
            }
        }
        assert admin.put(f"/pcm/products/{product_id}", json_body=body).status == 200
    created = [live(n) for n in range(100, 106)]  # created after the export began
    churn = Churn(stack, store, updated, first_new=200)
    churn.start()
    while churn.updates < len(updated):  # every updated product has its new version before writing
        threading.Event().wait(0.02)

    gate.release.set()  # parts are written while the churn goes on
    job = admin.wait_for_job(job_id, timeout=120)
    churn.stop.set()
    churn.join(30)
    assert job["attributes"]["status"] == "success", admin.get(f"/pcm/jobs/{job_id}/errors").body

    urls = job["meta"]["file_locations"]
    keys = [re.search(r"_part_(\d+)\.csv", url) for url in urls]
    assert [int(key.group(1)) for key in keys if key] == list(range(1, len(urls) + 1)), "files numbered 1..N"
    headers, rows = set(), []
    for url in urls:
        header, part = parse_csv(
            requests.get(url, timeout=30).content
        )  # strict: every row as wide as the header
        headers.add(tuple(header))
        assert len(part) <= PART_SIZE, f"a file holds {len(part)} rows"
        rows.extend(part)
    assert len(headers) == 1, "every file has the same header"
    assert len(urls) > 5, "rows that started to match during the export went to an overflow file"
    assert [p["rows"] for p in job["meta"]["parts"]] == [len(rows_of) for rows_of in _rows_per_file(urls)]

    seen = Counter(row["id"] for row in rows)
    assert all(count == 1 for count in seen.values()), "no product twice"
    assert set(steady.values()) <= set(seen), "every product that existed and matched throughout"
    assert not set(doomed) & set(seen), "deleted before their parts were written"
    assert not (set(created) | set(churn.created)) & set(seen), "created after the export began"
    for row in rows:
        tags = set(re.findall(r"v(\d+)", row["name"])) | set(
            re.findall(r'version "(\d+)"', row["description"])
        )
        assert len(tags) == 1, f"a torn row: {row['name']!r} / {row['description']!r}"
    assert all(row["status"] == "live" for row in rows)
    assert sum(p["rows"] for p in job["meta"]["parts"]) == job["meta"]["products"] == len(rows)

    keys_left = stack.client("s3").list_objects_v2(
        Bucket=stack.environment()["PARTS_BUCKET"], Prefix=f"{store.store_id}/{job_id}/overflow/"
    )
    assert keys_left.get("KeyCount", 0) == 0, "overflow files were moved to their numbers"


def _rows_per_file(urls: list[str]) -> list[list[dict[str, str]]]:
    return [parse_csv(requests.get(url, timeout=30).content)[1] for url in urls]


def test_numbering_overflow_files_again_after_an_interruption_gives_the_same_files() -> None:
    """The last step may be retried after it moved some overflow files: the same files result."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="parts")
        bucket = PartsBucket("parts")
        job = Job(id="j", store_id="s", created_at="2024-01-05T13:46:42.070Z", updated_at="x")
        parts = [
            {"number": 1, "key": part_key(job, 1), "rows": 5, "bytes": 50},
            {
                "number": 2,
                "key": part_key(job, 2),
                "rows": 5,
                "bytes": 50,
                OVERFLOW: [{"key": overflow_key(job, 2, 1), "rows": 1, "bytes": 10}],
            },
        ]
        for key in (part_key(job, 1), part_key(job, 2), overflow_key(job, 2, 1), overflow_key(job, 1, 1)):
            s3.put_object(Bucket="parts", Key=key, Body=key.encode())
        first = number_overflow(bucket, job, parts, part_key)
        again = number_overflow(bucket, job, parts, part_key)
        assert (
            first
            == again
            == [
                {"number": 1, "key": part_key(job, 1), "rows": 5, "bytes": 50},
                {"number": 2, "key": part_key(job, 2), "rows": 5, "bytes": 50},
                {"number": 3, "key": part_key(job, 3), "rows": 1, "bytes": 10},
            ]
        )
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="parts")["Contents"])
        assert keys == sorted(part_key(job, n) for n in (1, 2, 3)), "a stale overflow file is removed too"
        assert (
            s3.get_object(Bucket="parts", Key=part_key(job, 3))["Body"].read()
            == overflow_key(job, 2, 1).encode()
        )
