"""The verified manifest and gzip parts, through the template's state machine: every part is
downloaded through its signed link and checked against the manifest (key, rows, bytes, SHA-256),
gzip parts decompress to exactly the plain export's bytes."""

from __future__ import annotations

import gzip
import hashlib
import json
import urllib.parse
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.adapters.jobs_table import JobsTable
from tests.support import ApiClient, expected_cells, parse_csv, product

pytestmark = [pytest.mark.workflow, pytest.mark.stack_parameters(PartSize=5)]


def download(url: str) -> bytes:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def bucket_keys(stack: EmbeddedStack, prefix: str) -> list[str]:
    listing = stack.client("s3").list_objects_v2(Bucket=stack.environment()["PARTS_BUCKET"], Prefix=prefix)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


def export(admin: ApiClient, **query: str) -> dict[str, Any]:
    response = admin.post("/pcm/products/export", query=query)
    assert response.status == 201, response.body
    job = admin.wait_for_job(response.json()["data"]["id"])
    assert job["attributes"]["status"] == "success", job
    return job


def key_of(url: str) -> str:
    """``<store>/<job>/<name>``, whether the link is path-style or virtual-hosted."""
    return "/".join(urllib.parse.unquote(urllib.parse.urlparse(url).path).split("/")[-3:])


def verified_parts(stack: EmbeddedStack, store: Store, job: dict[str, Any]) -> list[bytes]:
    """Download the manifest and every part; check each against the manifest and the job's meta.
    Returns the parts' bytes as downloaded."""
    meta = job["meta"]
    manifest = json.loads(download(meta["manifest_location"]))
    assert manifest["job_id"] == job["id"] and manifest["store_id"] == store.store_id
    assert manifest["filter"] == meta["filter"]
    assert manifest["compression"] == meta["compression"]
    assert len(manifest["parts"]) == len(meta["file_locations"]) == len(meta["parts"])
    contents = []
    for number, (entry, url, part_meta) in enumerate(
        zip(manifest["parts"], meta["file_locations"], meta["parts"], strict=True), start=1
    ):
        content = download(url)
        contents.append(content)
        assert entry["number"] == number and entry["key"] == key_of(url)
        assert entry["name"] == entry["key"].rsplit("/", 1)[1]
        assert hashlib.sha256(content).hexdigest() == entry["sha256"] == part_meta["sha256"]
        assert len(content) == entry["bytes"] == part_meta["bytes"]
        csv_bytes = gzip.decompress(content) if manifest["compression"] == "gzip" else content
        header, rows = parse_csv(csv_bytes)
        assert header == manifest["columns"], "the manifest names every part's columns"
        assert len(rows) == entry["rows"] == part_meta["rows"]
    assert manifest["products"] == meta["products"] == sum(p["rows"] for p in manifest["parts"])
    # Exactly the parts and the manifest: no plan, no stray objects.
    prefix = f"{store.store_id}/{job['id']}/"
    assert bucket_keys(stack, prefix) == sorted(
        [p["key"] for p in manifest["parts"]] + [f"{prefix}manifest.json"]
    )
    return contents


def test_manifest_lists_every_part_and_each_download_matches_it(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    resources = {r["id"]: r for r in (admin.create_product(product(n)) for n in range(1, 13))}
    job = export(admin, filter="eq(commodity_type,physical)", useTemplateSlugs="true")
    assert job["meta"]["compression"] is None
    contents = verified_parts(stack, store, job)
    assert [len(parse_csv(c)[1]) for c in contents] == [5, 3]  # 8 of 12 are physical
    for content in contents:
        for row in parse_csv(content)[1]:
            assert row == {h: expected_cells(resources[row["id"]]).get(h, "") for h in row}
    assert all(url.split("?")[0].endswith(".csv") for url in job["meta"]["file_locations"])


def test_gzip_parts_decompress_to_the_plain_export(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    for n in range(1, 12):
        admin.create_product(product(n))
    plain = export(admin)
    gzipped = export(admin, compression="gzip")
    assert gzipped["meta"]["compression"] == "gzip"
    names = [key_of(url).rsplit("/", 1)[1] for url in gzipped["meta"]["file_locations"]]
    assert [name.split("_part_")[1] for name in names] == ["1.csv.gz", "2.csv.gz", "3.csv.gz"]
    plain_parts = verified_parts(stack, store, plain)
    gzip_parts = verified_parts(stack, store, gzipped)
    assert [gzip.decompress(c) for c in gzip_parts] == plain_parts, "same rows, same bytes, same limits"
    assert sum(map(len, gzip_parts)) < sum(map(len, plain_parts))
    head = stack.client("s3").head_object(
        Bucket=stack.environment()["PARTS_BUCKET"], Key=key_of(gzipped["meta"]["file_locations"][0])
    )
    assert head["ContentType"] == "application/gzip" and "ContentEncoding" not in head


def test_unknown_compression_is_a_400_naming_it_and_starts_nothing(admin: ApiClient) -> None:
    for value in ("zip", "GZIP", "gzip,br", "none", "deflate"):
        response = admin.post("/pcm/products/export", query={"compression": value})
        assert response.status == 400, (value, response.body)
        (error,) = response.json()["errors"]
        assert error["source"] == {"parameter": "compression"} and "gzip" in error["detail"]
    assert admin.get("/pcm/jobs").json()["meta"]["results"]["total"] == 0


def test_a_failed_export_keeps_neither_parts_nor_manifest(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    for n in range(1, 8):
        admin.create_product(product(n))

    def fail_part_two(event: Any, context: Any, call_real: Any) -> Any:
        if event["part"]["number"] == 2:
            raise RuntimeError("disk on fire")
        return call_real(event)

    stack.dispatcher.intercept("WritePartFunction", fail_part_two)
    response = admin.post("/pcm/products/export", query={"compression": "gzip"})
    job = admin.wait_for_job(response.json()["data"]["id"])
    assert job["attributes"]["status"] == "failed"
    assert job["meta"]["manifest_location"] is None and job["meta"]["file_locations"] is None
    assert bucket_keys(stack, f"{store.store_id}/{job['id']}/") == []


def test_a_retried_last_step_writes_the_same_manifest_after_the_plan_is_gone(
    stack: EmbeddedStack, store: Store, admin: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last step failed (transiently) after removing the plan: its retry takes the header from
    the manifest the first attempt wrote."""
    for n in range(1, 8):
        admin.create_product(product(n))
    real = JobsTable.transition
    refused: list[str] = []

    def busy_once(self: JobsTable, store_id: str, job_id: str, status: str, **changes: Any) -> Any:
        if status == "success" and not refused:
            refused.append(job_id)
            error = {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}
            raise ClientError({"Error": error}, "UpdateItem")
        return real(self, store_id, job_id, status, **changes)

    monkeypatch.setattr(JobsTable, "transition", busy_once)
    job = export(admin)
    assert refused == [job["id"]], "the first attempt failed, the retry succeeded"
    verified_parts(stack, store, job)
    manifest = json.loads(download(job["meta"]["manifest_location"]))
    assert manifest["columns"][:3] == ["id", "external_ref", "name"]
