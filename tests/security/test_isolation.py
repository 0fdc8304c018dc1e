"""Tenant isolation, tested as an attacker holding store A's tokens who knows store B's ids.

Every route answers B's job or product ids exactly as it answers ids that never existed (404, the
same body but for the id), changes nothing of B's, and no filter, key, page or export of A's ever
reaches B's partition.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from local.stores import create_store
from tests.support import ApiClient, exported_rows, parse_csv, product

pytestmark = pytest.mark.workflow


@dataclass
class Victim:
    """Store B: its products and, once ``export`` ran, a finished export."""

    store: Store
    client: ApiClient
    products: list[dict[str, Any]]
    job: dict[str, Any] | None = None

    def export(self) -> dict[str, Any]:
        self.job = self.client.wait_for_job(self.client.export()["id"])
        assert self.job["attributes"]["status"] == "success"
        return self.job


def _b_product(number: int) -> dict[str, Any]:
    return product(number, sku=f"B-SECRET-{number}", name=f"B secret product {number}", status="live")


@pytest.fixture
def victim(stack: EmbeddedStack) -> Victim:
    store = create_store(stack, "store B")
    client = ApiClient(stack, store.admin_token)
    return Victim(store, client, [client.create_product(_b_product(n)) for n in range(1, 4)])


def _not_found_shape(response: Any, secret_id: str, unknown_id: str) -> str:
    assert response.status == 404, response.body
    return str(response.body).replace(secret_id, "<id>").replace(unknown_id, "<id>")


ROUTES = [
    ("GET", "/pcm/products/{id}", None),
    ("PUT", "/pcm/products/{id}", {"data": {"type": "product", "attributes": {"name": "Taken over"}}}),
    ("DELETE", "/pcm/products/{id}", None),
]
JOB_ROUTES = [
    ("GET", "/pcm/jobs/{id}", None),
    ("GET", "/pcm/jobs/{id}/errors", None),
    ("POST", "/pcm/jobs/{id}/cancel", None),
]


def test_every_route_answers_another_stores_ids_as_unknown_and_changes_nothing(
    stack: EmbeddedStack, admin: ApiClient, shopper: ApiClient, victim: Victim
) -> None:
    b_product, b_job = victim.products[0]["id"], victim.export()["id"]
    checks = [(r, b_product) for r in ROUTES] + [(r, b_job) for r in JOB_ROUTES]
    for (method, template, body), secret_id in checks:
        unknown = str(uuid.uuid4()) if "products" in template else b_job[:-12] + "0" * 12
        stolen = admin.request(method, template.format(id=secret_id), json_body=body)
        never = admin.request(method, template.format(id=unknown), json_body=body)
        assert _not_found_shape(stolen, secret_id, unknown) == _not_found_shape(never, secret_id, unknown), (
            method,
            template,
        )
    # A's shopper token, on a live product of B.
    assert shopper.get(f"/pcm/products/{b_product}").status == 404
    # Ids dressed up as keys or paths of B's partition are no more than unknown ids.
    for crafted in (
        f"{b_job}#",
        f"..%2F{victim.store.store_id}%2F{b_job}",
        f"{victim.store.store_id}#{b_job}",
    ):
        assert admin.get(f"/pcm/jobs/{crafted}").status == 404

    # Nothing of B's changed: its product, its job (not cancelled) and the job's file.
    assert victim.client.get(f"/pcm/products/{b_product}").json()["data"] == victim.products[0]
    job = victim.client.get(f"/pcm/jobs/{b_job}").json()["data"]
    assert job["attributes"]["status"] == "success"
    (url,) = job["meta"]["file_locations"]
    _, rows = parse_csv(requests.get(url, timeout=30).content)
    assert sorted(row["id"] for row in rows) == sorted(p["id"] for p in victim.products)


FILTERS = [
    None,
    "like(sku,*)",
    "like(sku,B-SECRET*)",
    "eq(sku,B-SECRET-1)",
    "eq(name,B secret product 1)",
    "in(sku,B-SECRET-1,B-SECRET-2,B-SECRET-3)",
]


def test_no_filter_or_page_of_a_reaches_b(stack: EmbeddedStack, admin: ApiClient, victim: Victim) -> None:
    own = {admin.create_product(product(n))["id"] for n in range(1, 4)}
    theirs = {p["id"] for p in victim.products}
    for filter_text in FILTERS:
        query = {"filter": filter_text} if filter_text else {}
        seen: set[str] = set()
        for offset in (0, 1, 2, 3, 10_000_000):
            page = admin.get(
                "/pcm/products", query={**query, "page[offset]": str(offset), "page[limit]": "1"}
            )
            assert page.status == 200, page.body
            seen |= {item["id"] for item in page.json()["data"]}
        assert seen <= own and not seen & theirs, filter_text


def test_filters_naming_keys_or_other_stores_are_refused(admin: ApiClient, victim: Victim) -> None:
    store_b, b_product = victim.store.store_id, victim.products[0]["id"]
    for filter_text in (
        f"eq(pk,{store_b}#00)",
        f"eq(sk,{b_product})",
        f"eq(store_id,{store_b})",
        f"eq(store,{store_b})",
        "eq(columns,x)",
    ):
        response = admin.get("/pcm/products", query={"filter": filter_text})
        assert response.status == 400, (filter_text, response.body)
        assert store_b not in response.body or filter_text in response.json()["errors"][0]["detail"]
    # An id of B's as a filter value finds nothing: A's partition is the only one read.
    listed = admin.get("/pcm/products", query={"filter": f"eq(id,{b_product})"})
    assert listed.status == 200 and listed.json()["data"] == []


def test_an_export_of_a_holds_only_a_and_lists_only_as_jobs(
    stack: EmbeddedStack, admin: ApiClient, victim: Victim
) -> None:
    own = {admin.create_product(product(n))["id"] for n in range(1, 4)}
    job = admin.wait_for_job(admin.export("like(sku,*)")["id"])
    rows = exported_rows(job)
    assert {row["id"] for row in rows} == own
    assert not any("B-SECRET" in cell for row in rows for cell in row.values())
    listed = admin.get("/pcm/jobs", query={"page[limit]": "100"}).json()
    assert [j["id"] for j in listed["data"]] == [job["id"]]
    assert listed["meta"]["results"]["total"] == 1


def test_the_same_idempotency_key_in_two_stores_gives_two_jobs(admin: ApiClient, victim: Victim) -> None:
    key = {"Idempotency-Key": "shared-key-1"}
    mine = admin.post("/pcm/products/export", headers=key)
    theirs = victim.client.post("/pcm/products/export", headers=key)
    assert mine.status == theirs.status == 201
    assert mine.json()["data"]["id"] != theirs.json()["data"]["id"]
    assert admin.get(f"/pcm/jobs/{theirs.json()['data']['id']}").status == 404
    admin.wait_for_job(mine.json()["data"]["id"])
    victim.client.wait_for_job(theirs.json()["data"]["id"])


def test_a_store_sees_only_its_own_webhook(stack: EmbeddedStack, admin: ApiClient, victim: Victim) -> None:
    webhook = {"data": {"type": "webhook", "attributes": {"url": "https://hooks.example.com/b"}}}
    assert victim.client.put("/pcm/settings/webhook", json_body=webhook).status == 200
    assert admin.get("/pcm/settings/webhook").status == 404
    assert admin.delete("/pcm/settings/webhook").status == 404
    assert victim.client.get("/pcm/settings/webhook").json()["data"]["attributes"]["url"].endswith("/b")
