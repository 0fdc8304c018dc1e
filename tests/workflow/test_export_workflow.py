"""Exports through the template's own state machine, run by moto's ASL interpreter, with the
Lambda tasks dispatched in-process to the real handlers. Every part is parsed back and compared
with the catalogue, product by product."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import requests

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.catalogue.models import template_id
from product_export.export.columns import BASE_COLUMNS
from tests.support import ApiClient, expected_cells, parse_csv, product

BASE_HEADER = [header for header, _ in BASE_COLUMNS]
pytestmark = pytest.mark.workflow


def download(stack: EmbeddedStack, url: str) -> bytes:
    """Fetch a file_locations link over HTTP (moto serves the presigned GET)."""
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def bucket_keys(stack: EmbeddedStack, prefix: str) -> list[str]:
    s3 = stack.client("s3")
    listing = s3.list_objects_v2(Bucket=stack.environment()["PARTS_BUCKET"], Prefix=prefix)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


def run_export(admin: ApiClient, filter_text: str | None = None, **kwargs: Any) -> dict[str, Any]:
    job = admin.export(filter_text, **kwargs)
    assert job["attributes"]["status"] == "pending"
    return admin.wait_for_job(job["id"])


def exported_rows(
    stack: EmbeddedStack, job: dict[str, Any]
) -> tuple[list[list[str]], list[list[dict[str, str]]]]:
    headers, parts = [], []
    for url in job["meta"]["file_locations"]:
        header, rows = parse_csv(download(stack, url))
        headers.append(header)
        parts.append(rows)
    return headers, parts


def assert_rows_match(
    parts: list[list[dict[str, str]]], resources: list[dict[str, Any]], name_of: Any = None
) -> None:
    by_id = {resource["id"]: resource for resource in resources}
    seen: list[str] = []
    for rows in parts:
        for row in rows:
            seen.append(row["id"])
            expected = expected_cells(by_id[row["id"]], name_of)
            for header, value in row.items():
                assert value == expected.get(header, ""), (row["id"], header)
    assert sorted(seen) == sorted(by_id), "every matching product exactly once"


@pytest.mark.stack_parameters(PartSize=5)
def test_three_full_parts_and_a_last_one_compare_row_by_row(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    resources = [admin.create_product(product(n)) for n in range(1, 17)]
    job = run_export(admin)
    assert job["attributes"]["status"] == "success", job
    assert job["attributes"]["started_at"] and job["attributes"]["completed_at"]
    assert job["meta"]["products"] == 16
    headers, parts = exported_rows(stack, job)
    assert [len(rows) for rows in parts] == [5, 5, 5, 1]
    assert all(header == headers[0] for header in headers), "identical header in every part"
    spec = template_id(store.store_id, "specs")
    assert headers[0] == [
        *BASE_HEADER,
        f"template:{spec}:colour",
        f"template:{spec}:ok",
        f"template:{spec}:size",
        f"template:{spec}:created_at",
        f"template:{spec}:updated_at",
        "shopper_attributes.fit",
        "admin_attributes.cost",
        "admin_attributes.note",
    ]
    assert_rows_match(parts, resources, lambda slug: template_id(store.store_id, slug))
    keys = [urllib.parse.urlparse(url).path.split("/")[-3:] for url in job["meta"]["file_locations"]]
    for number, (store_id, job_id, name) in enumerate(keys, start=1):
        assert (store_id, job_id) == (store.store_id, job["id"])
        assert name.endswith(f"_part_{number}.csv") and len(name.split("_")[0]) == 8


@pytest.mark.stack_parameters(PartSize=5)
@pytest.mark.parametrize(
    ("count", "sizes"), [(0, []), (4, [4]), (5, [5]), (6, [5, 1]), (10, [5, 5]), (11, [5, 5, 1])]
)
def test_part_boundaries(
    stack: EmbeddedStack, store: Store, admin: ApiClient, count: int, sizes: list[int]
) -> None:
    resources = [admin.create_product(product(n)) for n in range(1, count + 1)]
    job = run_export(admin)
    assert job["attributes"]["status"] == "success"
    _headers, parts = exported_rows(stack, job)
    assert [len(rows) for rows in parts] == sizes
    assert len(job["meta"]["file_locations"]) == len(sizes)
    assert_rows_match(parts, resources, lambda slug: template_id(store.store_id, slug))


@pytest.mark.stack_parameters(PartSize=4)
def test_filtered_export_equals_the_filtered_list_and_skips_bundles(
    stack: EmbeddedStack, admin: ApiClient
) -> None:
    resources = [admin.create_product(product(n)) for n in range(1, 13)]
    admin.create_product(
        product(99, status="live", components={"c": {"options": [{"id": resources[0]["id"]}]}})
    )
    filter_text = "eq(status,live):(like(name,*ünïcødé*)|eq(tags,tag1))"
    listed = admin.get("/pcm/products", query={"filter": filter_text, "page[limit]": "100"}).json()
    listed_ids = {p["id"] for p in listed["data"] if p["meta"]["product_types"] != ["bundle"]}
    assert len(listed["data"]) == len(listed_ids) + 1, "the list includes the bundle"
    job = run_export(admin, filter_text, use_template_slugs=True)
    assert job["meta"]["filter"] == filter_text
    headers, parts = exported_rows(stack, job)
    assert {row["id"] for rows in parts for row in rows} == listed_ids
    assert "template:specs:size" in headers[0]
    assert_rows_match(parts, [r for r in resources if r["id"] in listed_ids])


def test_columns_include_restricts_optional_columns(stack: EmbeddedStack, admin: ApiClient) -> None:
    admin.create_product(product(1))
    body = {
        "data": {
            "type": "product-export",
            "attributes": {"columns": {"include": ["description", "template:specs:size"]}},
        }
    }
    job = run_export(admin, body=body, use_template_slugs=True)
    headers, _ = exported_rows(stack, job)
    assert headers[0] == [
        "id",
        "external_ref",
        "name",
        "description",
        "commodity_type",
        "sku",
        "template:specs:size",
    ]


@pytest.mark.stack_parameters(PartSize=3)
def test_failure_in_one_part_fails_the_job_with_readable_errors(
    stack: EmbeddedStack, store: Store, admin: ApiClient
) -> None:
    for n in range(1, 8):
        admin.create_product(product(n))

    def explode_on_part_two(event: Any, context: Any, call_real: Any) -> Any:
        if event["part"]["number"] == 2:
            raise RuntimeError("disk on fire")
        return call_real(event)

    stack.dispatcher.intercept("WritePartFunction", explode_on_part_two)
    job = run_export(admin)
    assert job["attributes"]["status"] == "failed"
    assert job["meta"]["file_locations"] is None
    errors = admin.get(f"/pcm/jobs/{job['id']}/errors").json()
    assert errors["meta"]["results"]["total"] == 1
    assert errors["data"][0]["type"] == "pim-job-error"
    assert errors["data"][0]["attributes"]["message"] == "Part 2 failed: RuntimeError: disk on fire"
    assert bucket_keys(stack, f"{store.store_id}/{job['id']}/") == [], "no partial or orphaned objects"


def test_planner_failure_fails_the_job(stack: EmbeddedStack, admin: ApiClient) -> None:
    admin.create_product(product(1))

    def broken(event: Any, context: Any, call_real: Any) -> Any:
        raise ValueError("catalogue unreadable")

    stack.dispatcher.intercept("PlanExportFunction", broken)
    job = run_export(admin)
    assert job["attributes"]["status"] == "failed"
    message = admin.get(f"/pcm/jobs/{job['id']}/errors").json()["data"][0]["attributes"]["message"]
    assert message == "Export failed: ValueError: catalogue unreadable"


def test_text_with_commas_quotes_newlines_and_unicode_round_trips(
    stack: EmbeddedStack, admin: ApiClient
) -> None:
    nasty = 'a,b "c" \'d\'\r\ne\nf\t😀 ünï ,""'
    resources = [
        admin.create_product(
            product(
                1,
                name=nasty,
                description=nasty,
                slug=nasty,
                upc_ean=nasty,
                mpn=nasty,
                sku=nasty,
                external_ref=nasty,
                extensions={"products(t)": {"f": nasty}},
                shopper_attributes={nasty: nasty},
                admin_attributes={"k": nasty},
            )
        )
    ]
    job = run_export(admin, use_template_slugs=True)
    _, parts = exported_rows(stack, job)
    assert parts[0][0]["name"] == nasty
    assert parts[0][0][f"shopper_attributes.{nasty}"] == nasty
    assert_rows_match(parts, resources)
