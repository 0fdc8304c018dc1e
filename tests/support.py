"""Test helpers: stores with tokens, an API client, product factories, CSV parsing."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import requests

from local.apigw import ApiResponse
from local.stack import EmbeddedStack
from product_export.adapters.aws import raw_items_dynamodb
from product_export.adapters.jobs_table import JobsTable

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


class Gate:
    """Holds every call of one function until released; ``entered`` is set once a call waits."""

    def __init__(self, stack: EmbeddedStack, logical_id: str) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        stack.dispatcher.intercept(logical_id, self._hold)

    def _hold(self, event: Any, context: Any, call_real: Any) -> Any:
        self.entered.set()
        self.release.wait(30)
        return call_real(event)


class ApiClient:
    """Requests through the emulated API Gateway, with a bearer token."""

    def __init__(self, stack: EmbeddedStack, token: str | None) -> None:
        assert stack.api is not None
        self.stack = stack
        self.api = stack.api
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        query: dict[str, str] | dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> ApiResponse:
        sent = {"Accept": "application/json"}
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            sent["Content-Type"] = "application/json"
            body = json.dumps(json_body)
        sent.update(headers or {})
        raw_query = urllib.parse.urlencode(query or {}, doseq=True, quote_via=urllib.parse.quote)
        return self.api.request(
            method, path + (f"?{raw_query}" if raw_query else ""), headers=sent, body=body
        )

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)

    # --- catalogue and export shortcuts ------------------------------------------------------
    def create_product(
        self, attributes: dict[str, Any], relationships: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "product", "attributes": attributes}
        if relationships:
            data["relationships"] = relationships
        response = self.post("/pcm/products", json_body={"data": data})
        assert response.status == 201, response.body
        return response.json()["data"]  # type: ignore[no-any-return]

    def export(
        self, filter_text: str | None = None, *, body: Any = None, use_template_slugs: bool = False
    ) -> dict[str, Any]:
        query = {"filter": filter_text} if filter_text is not None else {}
        if use_template_slugs:
            query["useTemplateSlugs"] = "true"
        response = self.post("/pcm/products/export", query=query, json_body=body)
        assert response.status == 201, response.body
        return response.json()["data"]  # type: ignore[no-any-return]

    def wait_for_job(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        """Poll GET /pcm/jobs/{id} until a final status, as a client would."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.get(f"/pcm/jobs/{job_id}")
            assert response.status == 200, response.body
            job = response.json()["data"]
            if job["attributes"]["status"] in ("success", "failed", "cancelled"):
                return job  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['attributes']['status']}")
            time.sleep(0.05)


def product(number: int, **overrides: Any) -> dict[str, Any]:
    """Attributes of a varied product; text fields carry commas, quotes, newlines and unicode."""
    attributes: dict[str, Any] = {
        "name": f'Product {number}, "quoted" ünïcødé 🚀',
        "commodity_type": "physical" if number % 3 else "digital",
        "sku": f"SKU-{number:06d}",
        "status": "live" if number % 2 else "draft",
        "description": f"Line one of {number}\r\nline two, with a comma\nand 'single' quotes",
        "slug": f"product-{number}",
        "upc_ean": f"{number:012d}",
        "mpn": f"MPN-{number}",
        "external_ref": f"ext-{number}",
        "tags": [f"tag{number % 5}", "all"],
        "extensions": {
            "products(specs)": {
                "size": number % 50,
                "colour": f"colour, {number % 7}",
                "ok": bool(number % 2),
            }
        },
        "shopper_attributes": {"fit": f'fit "{number % 3}"'},
        "admin_attributes": {"cost": f"{number}.50", "note": "line\nbreak"},
    }
    attributes.update(overrides)
    return attributes


def parse_csv(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    text = data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]
    return header, [dict(zip(header, row, strict=True)) for row in body]


def exported_rows(job: dict[str, Any]) -> list[dict[str, str]]:
    """Every row of a finished job's files, downloaded over HTTP as a client would, in file order."""
    files = job["meta"]["file_locations"]
    return [row for url in files for row in parse_csv(requests.get(url, timeout=30).content)[1]]


def bucket_state(stack: EmbeddedStack, store_id: str, job_id: str) -> tuple[list[str], list[str]]:
    """(object keys, open multipart upload keys) under a job's folder in the parts bucket."""
    s3, bucket = stack.client("s3"), stack.environment()["PARTS_BUCKET"]
    prefix = f"{store_id}/{job_id}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    uploads = [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])]
    return sorted(keys), uploads


def jobs_table(stack: EmbeddedStack) -> JobsTable:
    """The stack's jobs table, named as the functions' settings name it."""
    return JobsTable(stack.refs["JobsTable"])


def slots_given_back(stack: EmbeddedStack, store_id: str, timeout: float = 10) -> bool:
    """Whether the store's export slots are all free within ``timeout`` seconds (the last step gives
    a slot back right after recording the outcome the client sees)."""
    deadline = time.monotonic() + timeout
    while jobs_table(stack).slot_holders(store_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def expected_cells(resource: dict[str, Any], template_name: Any = None) -> dict[str, str]:
    """The CSV cells a product must export as, computed from its API resource (not from the writer).

    ``template_name(slug)`` names a template in the headers (slug by default).
    """
    name_of = template_name or (lambda slug: slug)
    attributes = resource["attributes"]

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    cells = {
        "id": resource["id"],
        "_created_at": resource["meta"]["created_at"],
        "_updated_at": resource["meta"]["updated_at"],
        "tags": ",".join(attributes.get("tags", [])),
        "main_image_id": (resource.get("relationships") or {})
        .get("main_image", {})
        .get("data", {})
        .get("id", ""),
    }
    for field in (
        "external_ref",
        "name",
        "description",
        "slug",
        "status",
        "commodity_type",
        "upc_ean",
        "mpn",
        "sku",
    ):
        cells[field] = text(attributes.get(field))
    for key, fields in attributes.get("extensions", {}).items():
        slug = key[len("products(") : -1]
        for field, value in fields.items():
            cells[f"template:{name_of(slug)}:{field}"] = text(value)
        # Template data given at creation and never changed carries the product's own times.
        cells[f"template:{name_of(slug)}:created_at"] = resource["meta"]["created_at"]
        cells[f"template:{name_of(slug)}:updated_at"] = resource["meta"]["updated_at"]
    for key, value in attributes.get("shopper_attributes", {}).items():
        cells[f"shopper_attributes.{key}"] = value
    for key, value in attributes.get("admin_attributes", {}).items():
        cells[f"admin_attributes.{key}"] = value
    return cells


class ProductQueries:
    """Every Query the service sends for products (the list, planner and part writers share one
    client): which index it went to and how many items DynamoDB read for it (ScannedCount)."""

    def __init__(self) -> None:
        self.reads: list[tuple[str | None, int]] = []
        self._events = raw_items_dynamodb().meta.events
        self._events.register("provide-client-params.dynamodb.Query", self._request)
        self._events.register("after-call.dynamodb.Query", self._response)

    def _request(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["index_name"] = params.get("IndexName")

    def _response(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self.reads.append((context.get("index_name"), int(parsed.get("ScannedCount", 0))))

    def items_read(self, index: str | None) -> int:
        return sum(count for name, count in self.reads if name == index)

    def close(self) -> None:
        self._events.unregister("provide-client-params.dynamodb.Query", self._request)
        self._events.unregister("after-call.dynamodb.Query", self._response)
