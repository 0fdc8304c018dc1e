"""The OpenAPI document: committed = generated, valid OpenAPI 3.1, exactly the template's routes, served
publicly at /pcm/openapi.json, and real answers of every route validate against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from local.template import Template
from product_export.api.openapi import OPENAPI_PATH, openapi_document, openapi_json
from tests.support import ApiClient, load_event, product

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "openapi.json"
ANY_UUID = "0193a1f0-0000-7000-8000-00000000abcd"


def test_committed_document_is_what_the_code_generates() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == openapi_json(), (
        "docs/openapi.json is stale: run `make openapi` and commit the result"
    )


def test_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from POST /oauth/access_token.",
    }


def test_operations_are_exactly_the_template_routes_with_their_auth() -> None:
    document = openapi_document()
    documented = {
        (method.upper(), path): operation.get("security") != []
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    routes = {
        (route.method, route.path): route.authorizer is not None for _, route in Template.load().routes()
    }
    assert documented == routes


def test_every_operation_documents_its_parameters_and_json_api_errors() -> None:
    document = openapi_document()
    error_schema = {"$ref": "#/components/schemas/ErrorDocument"}
    for code, response in document["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == error_schema, code
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = {p["name"] for p in operation.get("parameters", [])}
            assert names >= {segment[1:-1] for segment in path.split("/") if segment.startswith("{")}
            if operation.get("security") != []:
                assert "401" in operation["responses"], (method, path)
            errors = [code for code in operation["responses"] if code.startswith("4")]
            assert all(operation["responses"][c] == {"$ref": f"#/components/responses/{c}"} for c in errors)
    parameters = {
        p["name"]: p
        for item in document["paths"].values()
        for op in item.values()
        for p in op.get("parameters", [])
    }
    assert {"filter", "page[offset]", "page[limit]", "useTemplateSlugs", "Idempotency-Key", "id"} <= set(
        parameters
    )
    assert parameters["page[limit]"]["schema"]["maximum"] == 100
    export = document["paths"]["/pcm/products/export"]["post"]
    body = export["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ExportBody"} and export["requestBody"]["required"] is False


def test_document_is_served_without_a_token(stack: EmbeddedStack) -> None:
    assert stack.api is not None
    response = stack.api.request("GET", OPENAPI_PATH)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == openapi_document()


def test_openapi_sample_event(stack: EmbeddedStack) -> None:
    result = stack.dispatcher.invoke("OpenApiFunction", load_event("openapi-get.json"))
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["paths"].keys() == openapi_document()["paths"].keys()


def test_every_documented_route_reaches_its_handler(stack: EmbeddedStack, admin: ApiClient) -> None:
    """The gateway routes each documented operation and its function's resolver has the route."""
    for path, item in openapi_document()["paths"].items():
        for method in item:
            response = admin.request(method.upper(), path.replace("{id}", ANY_UUID))
            assert response.status < 500, (method, path, response.body)
            assert "No such route" not in response.body, (method, path)


class _Documented:
    """Validates real answers against the document's response schema for (operation, status)."""

    def __init__(self) -> None:
        self.document = openapi_document()
        self.seen: set[tuple[str, str, int]] = set()

    def check(self, method: str, path: str, status: int, body: str) -> Any:
        operation = self.document["paths"][path][method]
        assert str(status) in operation["responses"], f"{method} {path} answered an undocumented {status}"
        response = operation["responses"][str(status)]
        if "$ref" in response:
            response = self.document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        self.seen.add((method, path, status))
        if "content" not in response:
            assert body == "", body
            return None
        schema = {
            **response["content"]["application/json"]["schema"],
            "components": self.document["components"],
        }
        value = json.loads(body)
        errors = sorted(Draft202012Validator(schema).iter_errors(value), key=str)
        assert not errors, f"{method} {path} {status}: {errors[0].message} at {list(errors[0].absolute_path)}"
        return value


def test_real_answers_validate_against_the_document(
    stack: EmbeddedStack, store: Store, admin: ApiClient, shopper: ApiClient
) -> None:
    assert stack.api is not None
    doc = _Documented()
    form = f"grant_type=client_credentials&client_id={store.client_id}&client_secret={store.client_secret}"
    token_route = ("post", "/oauth/access_token")
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    too_large = "grant_type=" + "x" * 600 * 1024
    for body, status in ((form, 200), (form + "x", 401), ("grant_type=password", 400), (too_large, 413)):
        answer = stack.api.request("POST", token_route[1], headers=form_type, body=body)
        assert answer.status == status
        doc.check(*token_route, answer.status, answer.body)

    def call(client: ApiClient, method: str, path: str, status: int, **kwargs: Any) -> Any:
        concrete = kwargs.pop("concrete", path)
        answer = client.request(method.upper(), concrete, **kwargs)
        assert answer.status == status, (method, concrete, answer.body)
        return doc.check(method, path, answer.status, answer.body)

    item = "/pcm/products/{id}"
    created = call(
        admin, "post", "/pcm/products", 201, json_body={"data": {"type": "product", "attributes": product(1)}}
    )
    pid = created["data"]["id"]
    call(
        admin, "post", "/pcm/products", 409, json_body={"data": {"type": "product", "attributes": product(1)}}
    )
    call(
        admin,
        "post",
        "/pcm/products",
        422,
        json_body={"data": {"type": "product", "attributes": {"name": 3}}},
    )
    call(admin, "post", "/pcm/products", 400, body="{", headers={"Content-Type": "application/json"})
    call(admin, "post", "/pcm/products", 415, body="{}", headers={"Content-Type": "text/plain"})
    call(
        shopper,
        "post",
        "/pcm/products",
        403,
        json_body={"data": {"type": "product", "attributes": product(2)}},
    )
    call(admin, "get", item, 200, concrete=f"/pcm/products/{pid}")
    call(admin, "get", item, 404, concrete=f"/pcm/products/{ANY_UUID}")
    call(
        admin,
        "put",
        item,
        200,
        concrete=f"/pcm/products/{pid}",
        json_body={"data": {"type": "product", "attributes": {"status": "live"}}},
    )
    call(admin, "get", "/pcm/products", 200, query={"filter": "eq(status,live)", "page[limit]": "1"})
    call(shopper, "get", "/pcm/products", 200)
    call(admin, "get", "/pcm/products", 400, query={"filter": "eq(colour,red)"})
    call(admin, "get", "/pcm/products", 401, headers={"Authorization": "Bearer forged"})
    job = call(admin, "post", "/pcm/products/export", 201, query={"filter": "eq(status,live)"})["data"]
    call(
        admin,
        "post",
        "/pcm/products/export",
        422,
        json_body={"data": {"attributes": {"columns": {"include": ["nope"]}}}},
    )
    call(admin, "post", "/pcm/products/export", 400, headers={"Idempotency-Key": "has spaces"})
    admin.wait_for_job(job["id"])
    finished = call(admin, "get", "/pcm/jobs/{id}", 200, concrete=f"/pcm/jobs/{job['id']}")
    assert (
        finished["data"]["attributes"]["status"] == "success" and finished["data"]["meta"]["file_locations"]
    )
    call(admin, "get", "/pcm/jobs", 200)
    call(admin, "get", "/pcm/jobs", 400, query={"page[limit]": "0"})
    call(shopper, "get", "/pcm/jobs", 403)
    call(admin, "get", "/pcm/jobs/{id}/errors", 200, concrete=f"/pcm/jobs/{job['id']}/errors")
    call(admin, "get", "/pcm/jobs/{id}", 404, concrete=f"/pcm/jobs/{ANY_UUID}")
    call(admin, "post", "/pcm/jobs/{id}/cancel", 422, concrete=f"/pcm/jobs/{job['id']}/cancel")
    call(admin, "delete", item, 204, concrete=f"/pcm/products/{pid}")
    call(admin, "delete", item, 404, concrete=f"/pcm/products/{pid}")
    hook = "/pcm/settings/webhook"
    call(admin, "get", hook, 404)
    set_hook = {"data": {"type": "webhook", "attributes": {"url": "https://hooks.example.com/exports"}}}
    assert call(admin, "put", hook, 200, json_body=set_hook)["data"]["attributes"]["secret"]
    call(admin, "put", hook, 422, json_body={"data": {"type": "webhook", "attributes": {"url": "ftp://x"}}})
    call(shopper, "put", hook, 403, json_body=set_hook)
    assert "secret" not in call(admin, "get", hook, 200)["data"]["attributes"]
    call(admin, "delete", hook, 204)
    call(admin, "delete", hook, 404)
    served = stack.api.request("GET", OPENAPI_PATH)
    doc.check("get", OPENAPI_PATH, served.status, served.body)
    operations = {(m, p) for p, item in doc.document["paths"].items() for m in item}
    assert {(m, p) for m, p, _ in doc.seen} == operations, "every operation answered at least once"
