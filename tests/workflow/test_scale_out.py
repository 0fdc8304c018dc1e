"""Planning split by shard and parts written by a Distributed Map, through the template's state
machine on moto: one planner per group of shards, the part list read from S3 by the Map's
ItemReader, parts as full as one planner would cut them, and more parts than an inline Map's
payload holds."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import requests

from local.seed import demo_product
from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.adapters.products_table import ProductsTable
from product_export.adapters.workflow import ExportWorkflow
from product_export.catalogue.models import SHARD_COUNT, ProductData
from product_export.catalogue.products import new_item
from product_export.export.planner import SHARDS_PER_PLANNER
from tests.support import ApiClient, parse_csv

pytestmark = pytest.mark.workflow


def _load(stack: EmbeddedStack, store: Store, count: int) -> list[str]:
    """``count`` products written straight to the table (the API would take longer); their ids."""
    items = [
        new_item(
            store.store_id, ProductData.model_validate({"type": "product", "attributes": demo_product(n)})
        )
        for n in range(1, count + 1)
    ]
    encoded = list(ProductsTable.encoded_for_load(store.store_id, items))
    dynamodb, table = stack.client("dynamodb"), stack.environment()["PRODUCTS_TABLE"]
    for start in range(0, len(encoded), 25):
        batch = [{"PutRequest": {"Item": item}} for item in encoded[start : start + 25]]
        assert not dynamodb.batch_write_item(RequestItems={table: batch}).get("UnprocessedItems")
    return [item["id"] for item in items]


def _history(stack: EmbeddedStack, job_id: str) -> list[dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    arn = ExportWorkflow(stack.refs["ExportStateMachine"]).execution_arn(job_id)
    return [
        event
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        for event in page["events"]
    ]


def _rows_per_file(job: dict[str, Any]) -> list[list[str]]:
    return [
        [row["id"] for row in parse_csv(requests.get(url, timeout=30).content)[1]]
        for url in job["meta"]["file_locations"]
    ]


def _job_files(stack: EmbeddedStack, store: Store, job_id: str) -> list[str]:
    """What the job's folder holds, relative to it."""
    prefix = f"{store.store_id}/{job_id}/"
    listing = stack.client("s3").list_objects_v2(Bucket=stack.environment()["PARTS_BUCKET"], Prefix=prefix)
    return sorted(entry["Key"].removeprefix(prefix) for entry in listing.get("Contents", []))


@pytest.mark.stack_parameters(PartSize=7)
def test_one_planner_per_shard_group_then_a_distributed_map_of_full_parts(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    ids = _load(stack, store, 200)  # about 3 a shard: no shard alone fills a part
    job = admin.wait_for_job(admin.export()["id"], timeout=90)
    assert job["attributes"]["status"] == "success"

    events = _history(stack, job["id"])
    shard_iterations = [
        e["mapIterationStartedEventDetails"]["index"]
        for e in events
        if e["type"] == "MapIterationStarted" and e["mapIterationStartedEventDetails"]["name"] == "PlanShards"
    ]
    groups = SHARD_COUNT // SHARDS_PER_PLANNER
    assert sorted(shard_iterations) == list(range(groups)), "one planner per group of shards"
    planners = Counter(
        e["taskScheduledEventDetails"]["parameters"].split("function:", 1)[1].split('"', 1)[0]
        for e in events
        if e["type"] == "TaskScheduled"
    )
    assert planners["product-export-PlanShardGroupFunction"] == groups
    assert planners["product-export-CombinePlanFunction"] == 1
    assert [e["type"] for e in events if e["type"].startswith("MapRun")] == [
        "MapRunStarted",
        "MapRunSucceeded",
    ]

    # Full parts except the last, though no shard alone fills one; each product exactly once.
    files = _rows_per_file(job)
    assert [len(rows) for rows in files] == [7] * 28 + [4]
    exported = [product_id for rows in files for product_id in rows]
    assert sorted(exported) == sorted(ids)
    assert job["meta"]["progress"]["products_planned"] == 200
    assert job["meta"]["progress"]["parts_planned"] == 29
    # Neither the group files nor the part list outlive the export: its folder holds its files.
    parts = sorted(url.split("?", 1)[0].rsplit("/", 1)[1] for url in job["meta"]["file_locations"])
    assert _job_files(stack, store, job["id"]) == sorted([*parts, "manifest.json"])


def test_an_empty_store_exports_no_parts(stack: EmbeddedStack, store: Store, admin: ApiClient) -> None:
    job = admin.wait_for_job(admin.export()["id"], timeout=60)
    assert job["attributes"]["status"] == "success"
    assert job["meta"]["file_locations"] == [] and job["meta"]["products"] == 0
    assert job["meta"]["progress"]["products_planned"] == job["meta"]["progress"]["parts_planned"] == 0
    assert _job_files(stack, store, job["id"]) == ["manifest.json"], "no plan or part list is left"


# 101 parts, 50 at once: more than the inline Map ran at once (40, MapConcurrency's old ceiling).
# Not 300+: on moto each part re-reads the job item, whose per-part progress grows with every
# part, so 301 one-product parts take over two minutes here (161 take one).
@pytest.mark.stack_parameters(PartSize=1, MapConcurrency=50)
def test_many_parts_read_from_s3_and_their_results_reach_the_last_step(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    ids = _load(stack, store, 101)
    job_id = admin.export()["id"]
    stack.wait_for_execution(
        ExportWorkflow(stack.refs["ExportStateMachine"]).execution_arn(job_id), timeout=240
    )
    job = admin.get(f"/pcm/jobs/{job_id}").json()["data"]
    assert job["attributes"]["status"] == "success"
    files = _rows_per_file(job)
    assert [len(rows) for rows in files] == [1] * 101
    assert sorted(product_id for rows in files for product_id in rows) == sorted(ids)
    # The parts' results reach FinalizeExport in its input (no ResultWriter): about 230 bytes a
    # part, so the 256 KiB payload holds about 1,000 parts (docs/performance.md, "Map concurrency").
    (finalize,) = [
        e["taskScheduledEventDetails"]["parameters"]
        for e in _history(stack, job_id)
        if e["type"] == "TaskScheduled"
        and "FinalizeExportFunction" in e["taskScheduledEventDetails"]["parameters"]
    ]
    assert len(json.loads(finalize)["Payload"]["parts"]) == 101
    assert len(finalize.encode()) / 101 < 260
