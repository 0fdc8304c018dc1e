"""Delta exports through the real state machine: ``gt(updated_at,...)`` and ``since=last-success``
read the updated-at index (cost follows the changes, not the catalogue), and consecutive delta
exports carry every change exactly once, with updates made between and during exports."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.adapters.jobs_table import JobsTable
from product_export.adapters.products_table import UPDATED_AT_INDEX
from product_export.values import format_timestamp
from tests.support import ApiClient, Gate, ProductQueries, parse_csv, product

pytestmark = [pytest.mark.workflow, pytest.mark.stack_parameters(PartSize=3, DeltaSettleSeconds=0)]


def export(admin: ApiClient, filter_text: str | None = None, *, since: bool = True) -> dict[str, Any]:
    query = {"since": "last-success"} if since else {}
    if filter_text is not None:
        query["filter"] = filter_text
    response = admin.post("/pcm/products/export", query=query)
    assert response.status == 201, response.body
    return response.json()["data"]  # type: ignore[no-any-return]


def finished(admin: ApiClient, job: dict[str, Any]) -> dict[str, Any]:
    done = admin.wait_for_job(job["id"])
    assert done["attributes"]["status"] == "success", done
    return done


def parts_of(job: dict[str, Any]) -> list[list[dict[str, str]]]:
    parts = []
    for url in job["meta"]["file_locations"]:
        response = requests.get(url, timeout=30)
        assert response.status_code == 200
        parts.append(parse_csv(response.content)[1])
    return parts


def rows_of(job: dict[str, Any]) -> list[dict[str, str]]:
    return [row for rows in parts_of(job) for row in rows]


def update(admin: ApiClient, resource: dict[str, Any], name: str) -> dict[str, Any]:
    body = {"data": {"type": "product", "attributes": {"name": name}}}
    response = admin.put(f"/pcm/products/{resource['id']}", json_body=body)
    assert response.status == 200, response.body
    return response.json()["data"]  # type: ignore[no-any-return]


def versions(rows: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(row["id"], row["name"], row["_updated_at"]) for row in rows]


def current(resources: dict[str, dict[str, Any]], ids: set[str]) -> set[tuple[str, str, str]]:
    return {(i, resources[i]["attributes"]["name"], resources[i]["meta"]["updated_at"]) for i in sorted(ids)}


def test_consecutive_delta_exports_carry_each_change_exactly_once(
    stack: EmbeddedStack, admin: ApiClient, queries: ProductQueries
) -> None:
    created = [admin.create_product(product(n)) for n in range(1, 31)]
    latest = {resource["id"]: resource for resource in created}
    ids = [resource["id"] for resource in created]

    first = finished(admin, export(admin))
    assert first["meta"]["delta"] == {"since": "last-success", "since_job_id": None, "updated_after": None}
    assert first["meta"]["cutover_at"], "without an earlier success, since=last-success exports everything"
    assert sorted(row["id"] for row in rows_of(first)) == sorted(ids)

    # Changes between exports: four updates and a new product.
    for number in range(4):
        latest[ids[number]] = update(admin, latest[ids[number]], f"second {number}")
    new = admin.create_product(product(31))
    latest[new["id"]] = new
    queries.reads.clear()
    second = finished(admin, export(admin))
    assert second["meta"]["delta"] == {
        "since": "last-success",
        "since_job_id": first["id"],
        "updated_after": first["meta"]["cutover_at"],
    }
    second_parts = parts_of(second)
    assert [len(rows) for rows in second_parts] == [3, 2]
    changed = set(ids[:4]) | {new["id"]}
    assert set(versions([r for rows in second_parts for r in rows])) == current(latest, changed)
    # The cost follows the 5 changes, not the 31 products: the planner reads each change once from
    # the index and the part writers each of theirs once; the table is not read.
    assert queries.items_read(None) == 0
    assert 2 * len(changed) <= queries.items_read(UPDATED_AT_INDEX) <= 2 * len(changed) + 2

    # Changes before and while the next export runs: it is held after planning, before its parts.
    for number in (4, 5, 6):
        latest[ids[number]] = update(admin, latest[ids[number]], f"third {number}")
    gate = Gate(stack, "WritePartFunction")
    third_job = export(admin)
    assert gate.entered.wait(30)
    latest[ids[5]] = update(admin, latest[ids[5]], "changed while the third export runs")
    latest[ids[7]] = update(admin, latest[ids[7]], "changed while the third export runs")
    newer = admin.create_product(product(32))
    latest[newer["id"]] = newer
    gate.release.set()
    third = finished(admin, third_job)
    assert third["meta"]["products"] == 2
    # ids[5] was planned for this export but changed after its cut-over: it waits for the next one.
    assert set(versions(rows_of(third))) == current(latest, {ids[4], ids[6]})
    stack.dispatcher.clear_intercepts()

    fourth = finished(admin, export(admin))
    assert fourth["meta"]["delta"]["since_job_id"] == third["id"]
    assert set(versions(rows_of(fourth))) == current(latest, {ids[5], ids[7], newer["id"]})

    fifth = finished(admin, export(admin))
    assert fifth["meta"]["products"] == 0 and fifth["meta"]["file_locations"] == []

    # Across the consecutive deltas every changed product appears once, in its latest version.
    union = versions([row for job in (second, third, fourth, fifth) for row in rows_of(job)])
    assert len(union) == len(set(union)) == 10
    assert set(union) == current(latest, set(latest) - set(ids[8:]))


def test_updated_at_filters_read_the_index_and_equal_the_list(
    stack: EmbeddedStack, admin: ApiClient, queries: ProductQueries
) -> None:
    resources = [admin.create_product(product(n)) for n in range(1, 21)]
    bound = resources[13]["meta"]["updated_at"]
    for filter_text in (f"gt(updated_at,{bound})", f"ge(updated_at,{bound}):eq(status,live)"):
        queries.reads.clear()
        job = finished(admin, export(admin, filter_text, since=False))
        assert job["meta"]["filter"] == filter_text and job["meta"]["delta"] is None
        exported = {row["id"] for row in rows_of(job)}
        listed = admin.get("/pcm/products", query={"filter": filter_text, "page[limit]": "100"}).json()
        assert exported == {product["id"] for product in listed["data"]}
        inclusive = filter_text.startswith("ge")
        expected = {
            r["id"]
            for r in resources
            if (r["meta"]["updated_at"] >= bound if inclusive else r["meta"]["updated_at"] > bound)
            and (not inclusive or r["attributes"]["status"] == "live")
        }
        assert exported == expected and expected
        assert queries.items_read(None) == 0, "neither the export nor the list reads the table"
        candidates = sum(r["meta"]["updated_at"] >= bound for r in resources)
        # planner + part writers + the list: each reads the (at most 7) candidates once
        assert 3 * len(expected) <= queries.items_read(UPDATED_AT_INDEX) <= 3 * candidates + 2


def test_since_takes_its_start_from_an_export_with_the_same_filter_or_none(
    stack: EmbeddedStack, admin: ApiClient
) -> None:
    resources = {r["id"]: r for r in (admin.create_product(product(n)) for n in range(1, 7))}
    live = sorted(i for i, r in resources.items() if r["attributes"]["status"] == "live")
    draft = sorted(i for i, r in resources.items() if r["attributes"]["status"] == "draft")
    full_live = finished(admin, export(admin, "eq(status,live)", since=False))

    first_draft = finished(admin, export(admin, "eq(status,draft)"))
    assert first_draft["meta"]["delta"]["since_job_id"] is None, "another filter is no starting point"
    assert sorted(row["id"] for row in rows_of(first_draft)) == draft

    update(admin, resources[live[0]], "live, renamed")
    update(admin, resources[draft[0]], "draft, renamed")
    live_delta = finished(admin, export(admin, "eq(status,live)"))
    assert live_delta["meta"]["delta"]["since_job_id"] == full_live["id"]
    assert [row["id"] for row in rows_of(live_delta)] == [live[0]]

    everything = finished(admin, export(admin))
    assert everything["meta"]["delta"]["since_job_id"] is None, "filtered exports cover too little"
    assert len(rows_of(everything)) == 6

    draft_delta = finished(admin, export(admin, "eq(status,draft)"))
    assert draft_delta["meta"]["delta"]["since_job_id"] == everything["id"], "an unfiltered one covers all"
    assert draft_delta["meta"]["products"] == 0


@pytest.mark.stack_parameters(PartSize=3, DeltaSettleSeconds=2)
def test_changes_younger_than_the_settle_time_wait_for_the_next_delta(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    resource = admin.create_product(product(1))
    first = finished(admin, export(admin))
    assert [row["id"] for row in rows_of(first)] == [resource["id"]], "a full export is not capped"
    renamed = update(admin, resource, "renamed")
    second = finished(admin, export(admin))
    recorded = JobsTable(stack.refs["JobsTable"]).get(store.store_id, second["id"])
    assert recorded.snapshot_at and recorded.cutover_at == second["meta"]["cutover_at"]
    snapshot = datetime.fromisoformat(recorded.snapshot_at.replace("Z", "+00:00"))
    assert recorded.cutover_at == format_timestamp(snapshot - timedelta(seconds=2))
    time.sleep(2.1)
    third = finished(admin, export(admin))
    # The rename lands in exactly one of the two deltas: the second if it was at least 2 s old
    # when the second was planned (not when this machine is slow), otherwise the third.
    in_second = renamed["meta"]["updated_at"] <= recorded.cutover_at
    holder, other = (second, third) if in_second else (third, second)
    assert versions(rows_of(holder)) == [(resource["id"], "renamed", renamed["meta"]["updated_at"])]
    assert other["meta"]["products"] == 0


def test_since_other_than_last_success_is_a_400_and_starts_nothing(admin: ApiClient) -> None:
    for since in ("yesterday", "2024-01-01T00:00:00Z", "LAST-SUCCESS"):
        response = admin.post("/pcm/products/export", query={"since": since})
        assert response.status == 400, response.body
        error = response.json()["errors"][0]
        assert error["source"] == {"parameter": "since"} and "last-success" in error["detail"]
    assert admin.get("/pcm/jobs").json()["meta"]["results"]["total"] == 0
