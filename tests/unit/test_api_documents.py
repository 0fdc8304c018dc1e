"""The answers' models (api/documents.py): the JSON they produce is the JSON clients already get,
byte for byte, and the product models describe what catalogue.products.to_resource builds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from product_export.api.documents import (
    JobAnswer,
    ProductResource,
    WebhookAnswer,
    error_resource,
    job_resource,
    product_page,
    webhook_resource,
)
from product_export.api.http import error_response
from product_export.catalogue.models import ProductData
from product_export.catalogue.products import new_item, to_resource
from product_export.jobs.models import Job, PartCount, PartFile
from product_export.notifications.webhooks import Webhook

CREATED = "2026-01-05T13:46:42.070Z"


def _job(**fields: Any) -> Job:
    return Job(id="j1", store_id="s1", created_at=CREATED, updated_at=CREATED, **fields)


def test_a_successful_delta_job_is_the_json_clients_know() -> None:
    job = _job(
        status="success",
        started_at=CREATED,
        completed_at=CREATED,
        filter="eq(status,live)",
        x_request_id="r1",
        files=[PartFile(number=1, key="s1/j1/p1.csv.gz", rows=3, bytes=120, sha256="ab" * 32)],
        products=3,
        compression="gzip",
        manifest_key="s1/j1/manifest.json",
        cutover_at=CREATED,
        since="last-success",
        since_job_id="j0",
        updated_after=CREATED,
    )
    expires = datetime(2026, 1, 12, 13, 46, 42, 70_000, tzinfo=UTC)
    resource = job_resource(job, lambda key: f"https://signed/{key}", files_expire_at=expires)
    expected = (
        '{"data": {"type": "pim-job", "id": "j1", "attributes": {"type": "product-export", '
        '"status": "success", "created_at": "2026-01-05T13:46:42.070Z", '
        '"updated_at": "2026-01-05T13:46:42.070Z", "started_at": "2026-01-05T13:46:42.070Z", '
        '"completed_at": "2026-01-05T13:46:42.070Z"}, "meta": {"file_locations": '
        '["https://signed/s1/j1/p1.csv.gz"], "filter": "eq(status,live)", "x_request_id": "r1", '
        '"products": 3, "files_expire_at": "2026-01-12T13:46:42.070Z", "expired": false, '
        '"spreadsheet_safe": false, "parts": [{"rows": 3, "bytes": 120, "sha256": "' + "ab" * 32 + '"}], '
        '"manifest_location": "https://signed/s1/j1/manifest.json", "compression": "gzip", '
        '"progress": {"products_planned": 3, "products_written": 3, "parts_planned": 1, "parts_done": 1}, '
        '"cutover_at": "2026-01-05T13:46:42.070Z", "delta": {"since": "last-success", '
        '"since_job_id": "j0", "updated_after": "2026-01-05T13:46:42.070Z"}}}}'
    )
    assert json.dumps(JobAnswer(data=resource).model_dump(mode="json")) == expected


def test_a_running_job_shows_its_progress_and_no_files() -> None:
    job = _job(
        status="started",
        products_planned=10,
        parts_planned=2,
        part_progress={"1": PartCount(rows=5, done=True), "2": PartCount(rows=1)},
    )
    meta = job_resource(job, lambda key: pytest.fail("no links for a running job")).model_dump()["meta"]
    assert meta["file_locations"] is None and meta["parts"] is None and meta["manifest_location"] is None
    assert meta["progress"] == {
        "products_planned": 10,
        "products_written": 6,
        "parts_planned": 2,
        "parts_done": 1,
    }
    assert meta["delta"] is None and meta["filter"] == ""


def test_an_expired_job_lists_no_links() -> None:
    job = _job(status="success", files=[PartFile(number=1, key="k", rows=1, bytes=1)], products=1)
    meta = job_resource(job, lambda key: pytest.fail("expired: no links"), expired=True).model_dump()["meta"]
    assert meta["file_locations"] is None and meta["expired"] is True
    assert meta["parts"] == [{"rows": 1, "bytes": 1, "sha256": None}]


def test_webhook_secret_only_when_asked_and_error_documents() -> None:
    hook = Webhook(store_id="s", url="https://h.example.com/x", secret="shh", created_at=CREATED)
    with_secret = WebhookAnswer(data=webhook_resource(hook, with_secret=True)).model_dump(mode="json")
    without = WebhookAnswer(data=webhook_resource(hook, with_secret=False)).model_dump(mode="json")
    assert with_secret["data"]["attributes"] == {"url": hook.url, "created_at": CREATED, "secret": "shh"}
    assert without["data"] == {
        "type": "webhook",
        "id": "webhook",
        "attributes": {"url": hook.url, "created_at": CREATED},
    }
    assert error_resource("000012", "boom").model_dump() == {
        "type": "pim-job-error",
        "id": "12",
        "attributes": {"message": "boom"},
    }
    assert (
        error_response(400, "Bad Request", "", None).body
        == '{"errors": [{"status": "400", "title": "Bad Request"}]}'
    )
    assert (
        error_response(422, "Unprocessable Entity", "no", "/data/x").body
        == '{"errors": [{"status": "422", "title": "Unprocessable Entity", "detail": "no", '
        '"source": {"pointer": "/data/x"}}]}'
    )
    assert json.loads(error_response(400, "Bad Request", "no", "filter").body)["errors"][0]["source"] == {
        "parameter": "filter"
    }


@pytest.mark.parametrize("include_admin", [True, False])
def test_product_models_describe_every_attribute_to_resource_answers(include_admin: bool) -> None:
    """A product with every attribute, a bundle's components (with extra fields) and an image:
    read through ProductResource it comes out unchanged, so the document's schema holds it all."""
    attributes = {
        "name": "N",
        "description": "d",
        "slug": "s",
        "sku": "SKU",
        "status": "live",
        "commodity_type": "physical",
        "upc_ean": "1",
        "mpn": "m",
        "external_ref": "e",
        "tags": ["a", "b"],
        "locales": {"fr-FR": {"name": "n"}},
        "extensions": {"products(specs)": {"size": 3, "ratio": 0.5, "ok": True, "none": None, "t": "x"}},
        "shopper_attributes": {"fit": "slim"},
        "admin_attributes": {"cost": "1"},
        "components": {
            "c": {"name": "C", "options": [{"id": "o", "type": "product", "quantity": 2}], "x": None}
        },
    }
    data = ProductData.model_validate(
        {
            "type": "product",
            "attributes": attributes,
            "relationships": {"main_image": {"data": {"type": "file", "id": "img"}}},
        }
    )
    resource = to_resource(new_item("store", data), include_admin=include_admin)
    assert set(resource["attributes"]) == set(attributes) - (set() if include_admin else {"admin_attributes"})
    described = ProductResource.model_validate(resource).model_dump(mode="json", exclude_unset=True)
    assert json.dumps(described) == json.dumps(resource)


def test_a_middle_page_of_products_links_every_neighbour() -> None:
    assert json.dumps(product_page("/pcm/products", 25, 25, 60)) == (
        '{"links": {"current": "/pcm/products?page[offset]=25&page[limit]=25", '
        '"first": "/pcm/products?page[offset]=0&page[limit]=25", '
        '"last": "/pcm/products?page[offset]=50&page[limit]=25", '
        '"prev": "/pcm/products?page[offset]=0&page[limit]=25", '
        '"next": "/pcm/products?page[offset]=50&page[limit]=25"}, '
        '"meta": {"page": {"limit": 25, "offset": 25, "current": 2, "total": 3}, "results": {"total": 60}}}'
    )
    empty = product_page("/pcm/products", 0, 25, 0)
    assert empty["links"]["prev"] is None and empty["links"]["next"] is None
    assert empty["links"]["last"] == "/pcm/products?page[offset]=0&page[limit]=25"
