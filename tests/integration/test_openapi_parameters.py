"""Each handler reads exactly the query parameters and headers its operation declares in the OpenAPI
document: no fewer (a documented parameter the code ignores) and no more (a parameter the code reads
that the document does not describe).

Every operation is called once through the emulated gateway on its success path (so each handler
runs to its answer) while the event's query string and headers record each name that our code
(functions/, layers/) reads; reads made by Powertools itself are not ours and are left out.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent, CaseInsensitiveDict
from jsonschema import Draft202012Validator

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.api.openapi import OPENAPI_PATH, OPERATIONS, Operation
from product_export.api.parameters import Parameter
from tests.support import ApiClient, Gate, product

ROOT = Path(__file__).resolve().parents[2]
OUR_CODE = (str(ROOT / "functions"), str(ROOT / "layers"))
EVENT_ACCESSORS = ("aws_lambda_powertools/utilities/data_classes", "aws_lambda_powertools/shared")
EVERYTHING = "*"  # the whole query string or all headers were iterated


def _reader_is_our_code() -> bool:
    """Whether the read comes from our code: the first frame above the recording mapping and
    Powertools' event accessors (``get_query_string_value``…) is in functions/ or layers/."""
    frame = sys._getframe(3)  # above this function, _read and the mapping method
    while frame is not None and any(part in frame.f_code.co_filename for part in EVENT_ACCESSORS):
        frame = frame.f_back  # type: ignore[assignment]
    return frame is not None and frame.f_code.co_filename.startswith(OUR_CODE)


class _Reads:
    def __init__(self) -> None:
        self.query: set[str] = set()
        self.headers: set[str] = set()

    def clear(self) -> None:
        self.query.clear()
        self.headers.clear()


class _Recording:
    """A mapping that adds to ``reads`` each name our code looks up (EVERYTHING when it iterates)."""

    reads: set[str]
    case_insensitive = False

    def _read(self, name: str) -> str:
        key = name.lower() if self.case_insensitive else name
        if _reader_is_our_code():
            self.reads.add(key)
        return key

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(self._read(key), default)  # type: ignore[misc]

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(self._read(key))  # type: ignore[misc]

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._read(str(key)))  # type: ignore[misc,no-any-return]

    def __iter__(self) -> Iterator[str]:
        self._read(EVERYTHING)
        return super().__iter__()  # type: ignore[misc,no-any-return]

    def items(self) -> Any:
        self._read(EVERYTHING)
        return super().items()  # type: ignore[misc]


class _RecordedQuery(_Recording, dict[str, Any]):
    pass


class _RecordedHeaders(_Recording, CaseInsensitiveDict):  # type: ignore[misc]
    case_insensitive = True


@contextmanager
def recorded_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Reads]:
    reads = _Reads()

    def query(event: BaseProxyEvent) -> dict[str, Any]:
        recorded = _RecordedQuery(event.get("queryStringParameters") or {})
        recorded.reads = reads.query
        return recorded

    def multi_query(event: BaseProxyEvent) -> dict[str, Any]:
        recorded = _RecordedQuery(event.get("multiValueQueryStringParameters") or {})
        recorded.reads = reads.query
        return recorded

    def headers(event: BaseProxyEvent) -> dict[str, Any]:
        recorded = _RecordedHeaders(event.get("headers"))
        recorded.reads = reads.headers
        return recorded  # type: ignore[no-any-return]

    monkeypatch.setattr(BaseProxyEvent, "query_string_parameters", property(query))
    monkeypatch.setattr(BaseProxyEvent, "multi_value_query_string_parameters", property(multi_query))
    monkeypatch.setattr(BaseProxyEvent, "headers", property(headers))
    yield reads


def _declared(operation: Operation) -> tuple[set[str], set[str]]:
    """The query parameters and (lower-case) headers the operation declares; a body's
    Content-Type is declared by its requestBody's media types."""
    parameters: tuple[Parameter, ...] = operation.parameters
    query = {p.name for p in parameters if p.location == "query"}
    headers = {p.name.lower() for p in parameters if p.location == "header"}
    return query, headers | ({"content-type"} if operation.body is not None else set())


def test_each_handler_reads_exactly_the_parameters_its_operation_declares(
    stack: EmbeddedStack, store: Store, admin: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stack.api is not None
    gate = Gate(stack, "PlanExportFunction")  # keeps the first export pending, to be cancelled
    by_route = {(op.method.upper(), op.path): op for op in OPERATIONS}
    seen: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    form = f"grant_type=client_credentials&client_id={store.client_id}&client_secret={store.client_secret}"
    product_body = {"data": {"type": "product", "attributes": product(1)}}
    export_body = {"data": {"type": "product-export", "attributes": {"columns": {"include": ["slug"]}}}}
    hook = {"data": {"type": "webhook", "attributes": {"url": "https://hooks.example.com/exports"}}}
    ids: dict[str, str] = {}

    with recorded_reads(monkeypatch) as reads:

        def call(method: str, path: str, status: int, **kwargs: Any) -> Any:
            concrete = kwargs.pop("concrete", path)
            reads.clear()
            if path == "/oauth/access_token":
                form_type = {"Content-Type": "application/x-www-form-urlencoded"}
                answer = stack.api.request(method, path, headers=form_type, body=form)  # type: ignore[union-attr]
            else:
                answer = admin.request(method, concrete, **kwargs)
            assert answer.status == status, (method, path, answer.body[:300])
            seen[(method, path)] = (set(reads.query), set(reads.headers))
            return answer.json() if answer.body else None

        call("POST", "/oauth/access_token", 200)
        ids["product"] = call("POST", "/pcm/products", 201, json_body=product_body)["data"]["id"]
        item = "/pcm/products/{id}"
        concrete = f"/pcm/products/{ids['product']}"
        call("GET", "/pcm/products", 200, query={"filter": "eq(status,live)", "page[limit]": "5"})
        call("GET", item, 200, concrete=concrete)
        call("PUT", item, 200, concrete=concrete, json_body={"data": {"type": "product", "attributes": {}}})
        job = call(
            "POST",
            "/pcm/products/export",
            201,
            json_body=export_body,
            query={"filter": "eq(status,live)", "useTemplateSlugs": "true", "compression": "gzip"},
            headers={"Idempotency-Key": "parameters-test"},
        )["data"]
        assert gate.entered.wait(30)
        jobs = f"/pcm/jobs/{job['id']}"
        call("GET", "/pcm/jobs", 200, query={"page[offset]": "0"})
        call("GET", "/pcm/jobs/{id}", 200, concrete=jobs)
        call("GET", "/pcm/jobs/{id}/errors", 200, concrete=f"{jobs}/errors")
        call("POST", "/pcm/jobs/{id}/cancel", 200, concrete=f"{jobs}/cancel")
        gate.release.set()
        call("PUT", "/pcm/settings/webhook", 200, json_body=hook)
        call("GET", "/pcm/settings/webhook", 200)
        call("DELETE", "/pcm/settings/webhook", 204)
        call("DELETE", item, 204, concrete=concrete)
        call("GET", OPENAPI_PATH, 200)

    assert seen.keys() == by_route.keys(), "every documented operation is exercised"
    for route, (query, headers) in seen.items():
        declared_query, declared_headers = _declared(by_route[route])
        assert query == declared_query, (
            f"{route}: reads query {sorted(query)}, declares {sorted(declared_query)}"
        )
        assert headers == declared_headers, (
            f"{route}: reads headers {sorted(headers)}, declares {sorted(declared_headers)}"
        )


def test_recording_sees_a_read_the_route_table_does_not_declare(
    stack: EmbeddedStack, admin: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder itself: a handler reading one more query parameter and one more header is seen."""
    stack.dispatcher.handler("ProductsApiFunction")  # imported as the stack runs it
    products_api = sys.modules["fn_ProductsApiFunction"]
    real = products_api.page_of
    # The extra reads below are made from this file: count it as the handler's code.
    monkeypatch.setattr(sys.modules[__name__], "OUR_CODE", (*OUR_CODE, __file__))

    def reads_more(app: Any) -> tuple[int, int]:
        app.current_event.get_query_string_value("sort")
        app.current_event.headers.get("X-Undeclared")
        return real(app)

    monkeypatch.setattr(products_api, "page_of", reads_more)
    with recorded_reads(monkeypatch) as reads:
        assert admin.get("/pcm/products").status == 200
    declared_query, declared_headers = _declared(
        next(op for op in OPERATIONS if op.operation_id == "listProducts")
    )
    assert reads.query - declared_query == {"sort"}
    assert reads.headers - declared_headers == {"x-undeclared"}


def test_an_empty_value_is_accepted_exactly_where_the_document_admits_it(admin: ApiClient) -> None:
    """``?name=``: a 2xx where the parameter's document admits the empty string (its schema, or
    allowEmptyValue), a JSON:API 400 naming the parameter everywhere else."""
    job = admin.export()
    admin.wait_for_job(job["id"])
    concrete = {"/pcm/jobs/{id}/errors": f"/pcm/jobs/{job['id']}/errors"}
    checked = 0
    for operation in OPERATIONS:
        for parameter in operation.parameters:
            if parameter.location != "query":
                continue
            described = parameter.openapi()
            admits = described.get("allowEmptyValue", False) or Draft202012Validator(
                described["schema"]
            ).is_valid("")
            path = concrete.get(operation.path, operation.path)
            answer = admin.request(operation.method.upper(), path, query={parameter.name: ""})
            what = (operation.operation_id, parameter.name, answer.status, answer.body[:200])
            if admits:
                assert 200 <= answer.status < 300, what
            else:
                assert answer.status == 400, what
                assert answer.json()["errors"][0]["source"] == {"parameter": parameter.name}, what
            checked += 1
    assert checked >= 10


def test_a_query_parameter_given_twice_is_refused_naming_it(admin: ApiClient) -> None:
    """API Gateway would keep only the last of two values; the handlers refuse the ambiguity instead
    of reading one of them (schemathesis found ``?useTemplateSlugs=<junk>&useTemplateSlugs=`` taken
    as "left out")."""
    job = admin.export()
    admin.wait_for_job(job["id"])
    concrete = {"/pcm/jobs/{id}/errors": f"/pcm/jobs/{job['id']}/errors"}
    jobs_before = admin.get("/pcm/jobs").json()["meta"]["results"]["total"]
    checked = 0
    for operation in OPERATIONS:
        for parameter in operation.parameters:
            if parameter.location != "query":
                continue
            path = concrete.get(operation.path, operation.path)
            answer = admin.request(operation.method.upper(), path, query={parameter.name: ["", "true"]})
            what = (operation.operation_id, parameter.name, answer.status, answer.body[:200])
            assert answer.status == 400, what
            [error] = answer.json()["errors"]
            assert error["source"] == {"parameter": parameter.name}, what
            assert "more than once" in error["detail"], what
            checked += 1
    assert checked >= 10
    assert admin.get("/pcm/jobs").json()["meta"]["results"]["total"] == jobs_before, "no export was started"
