"""/pcm/products through the emulated API Gateway, on moto."""

from __future__ import annotations

import json

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from tests.support import ApiClient, load_event, product


def test_create_get_update_delete(admin: ApiClient) -> None:
    created = admin.create_product(
        product(1), relationships={"main_image": {"data": {"type": "file", "id": "img-1"}}}
    )
    assert created["type"] == "product"
    assert created["meta"]["product_types"] == ["standard"]
    assert created["relationships"]["main_image"]["data"]["id"] == "img-1"
    assert created["attributes"]["extensions"] == {
        "products(specs)": {"size": 1, "colour": "colour, 1", "ok": True}
    }
    product_id = created["id"]

    fetched = admin.get(f"/pcm/products/{product_id}")
    assert fetched.status == 200
    assert fetched.json()["data"] == created

    updated = admin.put(
        f"/pcm/products/{product_id}",
        json_body={
            "data": {
                "type": "product",
                "id": product_id,
                "attributes": {"name": "Renamed", "description": None},
            }
        },
    )
    assert updated.status == 200, updated.body
    attributes = updated.json()["data"]["attributes"]
    assert attributes["name"] == "Renamed"
    assert "description" not in attributes
    assert attributes["sku"] == "SKU-000001"  # untouched
    assert updated.json()["data"]["meta"]["updated_at"] >= created["meta"]["updated_at"]

    assert admin.delete(f"/pcm/products/{product_id}").status == 204
    assert admin.get(f"/pcm/products/{product_id}").status == 404


def test_sample_create_event(stack: EmbeddedStack, store: Store) -> None:
    event = load_event("products_api-create.json")
    event["requestContext"]["authorizer"]["store_id"] = store.store_id
    result = stack.dispatcher.invoke("ProductsApiFunction", event)
    assert result["statusCode"] == 201, result["body"]
    data = json.loads(result["body"])["data"]
    assert data["attributes"]["extensions"]["products(shoes)"]["size"] == 42


def test_sku_and_external_ref_are_unique_per_store(
    admin: ApiClient, stack: EmbeddedStack, other_store: Store
) -> None:
    first = admin.create_product(product(1))
    duplicate = admin.post(
        "/pcm/products", json_body={"data": {"type": "product", "attributes": product(2, sku="SKU-000001")}}
    )
    assert duplicate.status == 409
    assert duplicate.json()["errors"][0]["source"]["pointer"] == "/data/attributes/sku"
    duplicate_ref = admin.post(
        "/pcm/products",
        json_body={"data": {"type": "product", "attributes": product(3, external_ref="ext-1")}},
    )
    assert duplicate_ref.status == 409
    assert "external_ref" in duplicate_ref.json()["errors"][0]["detail"]
    # Nothing half-written: the rejected products do not exist.
    assert admin.get("/pcm/products").json()["meta"]["results"]["total"] == 1
    # Another store may use the same sku.
    ApiClient(stack, other_store.admin_token).create_product(product(1))
    # Renaming frees the old sku and claims the new one.
    renamed = admin.put(
        f"/pcm/products/{first['id']}", json_body={"data": {"type": "product", "attributes": {"sku": "NEW"}}}
    )
    assert renamed.status == 200
    admin.create_product(product(4, sku="SKU-000001", external_ref="ext-4"))
    assert (
        admin.post(
            "/pcm/products", json_body={"data": {"type": "product", "attributes": product(5, sku="NEW")}}
        ).status
        == 409
    )


def test_invalid_products_get_422_naming_the_field(admin: ApiClient) -> None:
    cases = {
        "commodity_type": {"name": "x"},
        "status": product(1, status="published"),
        "tags": product(1, tags=["has space"]),
        "extensions": product(1, extensions={"specs": {"a": 1}}),
        "colour": {"name": "x", "commodity_type": "physical", "colour": "red"},
    }
    for field, attributes in cases.items():
        response = admin.post(
            "/pcm/products", json_body={"data": {"type": "product", "attributes": attributes}}
        )
        assert response.status == 422, (field, response.body)
        assert field in json.dumps(response.json()["errors"][0]), (field, response.body)
    assert admin.get("/pcm/products").json()["meta"]["results"]["total"] == 0


def test_malformed_bodies_are_4xx_not_500(admin: ApiClient) -> None:
    assert (
        admin.post("/pcm/products", body="{not json", headers={"Content-Type": "application/json"}).status
        == 400
    )
    assert admin.post("/pcm/products", body="").status == 400
    assert admin.post("/pcm/products", body="[]", headers={"Content-Type": "application/json"}).status == 422
    assert admin.post("/pcm/products", body="<x/>", headers={"Content-Type": "application/xml"}).status == 415


def test_bundles_are_marked_by_their_components(admin: ApiClient) -> None:
    part = admin.create_product(product(1))
    bundle = admin.create_product(
        product(2, components={"main": {"name": "Main", "options": [{"id": part["id"]}]}})
    )
    assert bundle["meta"]["product_types"] == ["bundle"]


def test_list_filters_pages_and_totals(admin: ApiClient) -> None:
    for number in range(1, 8):
        admin.create_product(product(number))
    everything = admin.get("/pcm/products", query={"page[limit]": "3"})
    assert everything.status == 200
    assert everything.json()["meta"]["results"]["total"] == 7
    assert len(everything.json()["data"]) == 3
    second = admin.get("/pcm/products", query={"page[limit]": "3", "page[offset]": "3"}).json()["data"]
    assert not {p["id"] for p in second} & {p["id"] for p in everything.json()["data"]}
    live = admin.get("/pcm/products", query={"filter": "eq(status,live):like(sku,SKU-00000*)"}).json()
    assert sorted(p["attributes"]["sku"] for p in live["data"]) == [
        "SKU-000001",
        "SKU-000003",
        "SKU-000005",
        "SKU-000007",
    ]
    either = admin.get("/pcm/products", query={"filter": "(eq(sku,SKU-000002)|eq(mpn,MPN-4))"}).json()["data"]
    assert sorted(p["attributes"]["sku"] for p in either) == ["SKU-000002", "SKU-000004"]


def test_sample_list_event(stack: EmbeddedStack, store: Store, admin: ApiClient) -> None:
    admin.create_product(product(1, sku="TR-1", status="live"))
    admin.create_product(product(2, sku="TR-2", status="draft"))
    event = load_event("products_api-list-filter.json")
    event["requestContext"]["authorizer"]["store_id"] = store.store_id
    result = stack.dispatcher.invoke("ProductsApiFunction", event)
    assert result["statusCode"] == 200
    assert [p["attributes"]["sku"] for p in json.loads(result["body"])["data"]] == ["TR-1"]


def test_bad_filter_and_paging_are_400(admin: ApiClient) -> None:
    bad = admin.get("/pcm/products", query={"filter": "eq(colour,red)"})
    assert bad.status == 400
    assert "colour" in bad.json()["errors"][0]["detail"]
    assert bad.json()["errors"][0]["detail"].startswith("Could not parse the supplied filter")
    assert admin.get("/pcm/products", query={"page[limit]": "1000"}).status == 400
    assert admin.get("/pcm/products", query={"page[offset]": "-1"}).status == 400


def test_shopper_sees_live_products_without_admin_attributes(admin: ApiClient, shopper: ApiClient) -> None:
    live = admin.create_product(product(1))
    draft = admin.create_product(product(2))
    listed = shopper.get("/pcm/products").json()
    assert [p["id"] for p in listed["data"]] == [live["id"]]
    assert "admin_attributes" not in listed["data"][0]["attributes"]
    assert shopper.get(f"/pcm/products/{draft['id']}").status == 404


def test_other_stores_products_are_404(stack: EmbeddedStack, admin: ApiClient, other_store: Store) -> None:
    mine = admin.create_product(product(1))
    theirs = ApiClient(stack, other_store.admin_token)
    assert theirs.get(f"/pcm/products/{mine['id']}").status == 404
    assert (
        theirs.put(
            f"/pcm/products/{mine['id']}",
            json_body={"data": {"type": "product", "attributes": {"name": "x"}}},
        ).status
        == 404
    )
    assert theirs.delete(f"/pcm/products/{mine['id']}").status == 404
    assert theirs.get("/pcm/products").json()["meta"]["results"]["total"] == 0
