"""Schemathesis against the service's own OpenAPI document, on the local stack over real HTTP.

The document is read from ``GET /pcm/openapi.json`` of the running service; every operation is run
with schema-valid (positive) and schema-violating (negative) data, authenticated with a real token,
on generated ids and, for routes with an id, on a real product or job. Each answer must be a correct
2xx or a JSON:API 4xx (never a 5xx), conform to the document (status, content type, schema), refuse
negative data, and a rejected request must leave every table and the bucket unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from local.server import LocalService, local_service
from product_export.api.openapi import OPENAPI_PATH
from tests.hostile.battery import HOSTILE, Quiet, check_answer, count_answer, count_case, settle
from tests.support import product

# Schema-valid data the service may still refuse (a filter that does not parse, a product without
# the name a create requires, a tag with a comma) is a 4xx by design, so positive_data_acceptance
# is not among the checks; the rest hold for every case.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# A schema-violating request is refused by the service (4xx) or, for a URL over the gateway's limit
# (a filter far beyond maxLength), by the gateway itself (414).
REJECTED = [400, 401, 403, 404, 409, 413, 414, 415, 422]
# Each (operation, mode, id) run gets a quarter of the profile's examples: there are about 40 runs.
PER_RUN = settings(HOSTILE, max_examples=max(3, HOSTILE.max_examples // 4))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    # No hourly export cap: the battery starts far more exports than a store may in an hour.
    parameters = {"PartSize": "5", "LogLevel": "ERROR", "ExportsPerStorePerHour": "0"}
    logs = tmp_path_factory.mktemp("logs")
    with local_service(port=0, parameters=parameters, log_dir=logs) as running:
        yield running


def _token(service: LocalService) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": service.store.client_id,
        "client_secret": service.store.client_secret,
    }
    answer = requests.post(f"{service.base_url}/oauth/access_token", data=form, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _real_ids(service: LocalService, auth: dict[str, str]) -> dict[str, str]:
    base = service.base_url
    created = [
        requests.post(
            f"{base}/pcm/products",
            json={"data": {"type": "product", "attributes": product(n)}},
            headers=auth,
            timeout=30,
        )
        for n in (1, 2, 3)
    ]
    assert [answer.status_code for answer in created] == [201] * 3
    job = requests.post(
        f"{base}/pcm/products/export", params={"filter": "eq(status,live)"}, headers=auth, timeout=30
    )
    assert job.status_code == 201, job.text
    settle(service.stack)
    return {"product": created[0].json()["data"]["id"], "job": job.json()["data"]["id"]}


def test_schemathesis_finds_no_server_error_and_no_change_on_rejection(service: LocalService) -> None:
    base = service.base_url
    auth = {"Authorization": f"Bearer {_token(service)}"}
    # The token goes through schemathesis' own auth for the document's bearer scheme, so that it knows
    # which cases carry it (a negative case may leave it out on purpose: that must be a 401).
    config = SchemathesisConfig.from_dict(
        {
            "auth": {"openapi": {"bearerAuth": {"bearer": auth["Authorization"].removeprefix("Bearer ")}}},
            "checks": {"negative_data_rejection": {"expected-statuses": REJECTED}},
        }
    )
    schema = schemathesis.openapi.from_url(f"{base}{OPENAPI_PATH}", config=config, timeout=30)
    real = _real_ids(service, auth)
    session = requests.Session()
    quiet = Quiet(service.stack)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in schema.raw_schema["paths"].values())

    for operation in operations:
        ok = {int(code) for code in operation.definition.raw["responses"] if code.startswith("2")}
        has_inputs = bool(operation.path_parameters or operation.query or operation.headers or operation.body)
        fixed: list[dict[str, str] | None] = [None]
        if "{id}" in operation.path and operation.method.upper() != "DELETE":
            fixed.append({"id": real["job" if "/jobs/" in operation.path else "product"]})
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not has_inputs:
                continue  # nothing to violate
            for path_parameters in fixed:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
                try:
                    _run_cases(strategy, f"schemathesis {mode.value}", base, session, quiet, ok)
                except Unsatisfiable:
                    assert not has_inputs, f"{operation.label}: no {mode.value} case could be generated"


def test_inputs_the_battery_found_get_a_correct_answer(service: LocalService) -> None:
    """Each of these was answered wrongly before its fix: a 500, but the URL over 64 KB (http.server's
    own HTML page) and the repeated parameter (a 201); over HTTP on dynalite, which, like DynamoDB,
    refuses keys and numbers over its limits."""
    base = service.base_url
    auth = {"Authorization": f"Bearer {_token(service)}"}
    quiet = Quiet(service.stack)
    json_type = {"Content-Type": "application/json"}
    big = {f"k{i}": "v" * 1000 for i in range(450)}  # under the body limit, over DynamoDB's 400 KB item
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/pcm/products?page[limit]=%C2%B2", {}, 400),  # '²'.isdigit(), int('²') raises
        ("GET", "/pcm/jobs?page[offset]=" + "9" * 5000, {}, 400),  # int() refuses over 4,300 digits
        ("GET", "/pcm/jobs?page[offset]=", {}, 400),  # empty: no integer (answered 200)
        ("POST", "/pcm/products", {"data": b'{"data":"\xff\xfe"}', "headers": json_type}, 400),
        ("POST", "/oauth/access_token", {"data": b"grant_type=\xff", "no_auth": True}, 400),
        ("POST", "/oauth/access_token", {"data": {"grant_type": "implicit", "client_id": "c" * 3000}}, 401),
        ("GET", "/pcm/products/" + "a" * 2000, {}, 404),  # a sort key over 1 KB
        ("GET", "/pcm/jobs/" + "a" * 2000 + "/errors", {}, 404),
        (
            "POST",
            "/pcm/products",
            {"json": {"data": {"type": "product", "attributes": {**_VALID, "shopper_attributes": big}}}},
            422,
        ),
        ("GET", "/pcm/products?filter=" + "a" * 70_000, {}, 414),  # over the request line limit
        # Components take any JSON: a float in them was refused by the item encoder.
        (
            "POST",
            "/pcm/products",
            {"json": _product({"components": {"c": {"x": 0.5, "o": [{"y": -1.5e16}]}}})},
            201,
        ),
        (
            "POST",
            "/pcm/products",
            {"data": _product_text('"components":{"c":{"x":NaN}}'), "headers": json_type},
            400,
        ),
        (
            "POST",
            "/pcm/products",
            {"json": _product({"extensions": {"products(t)": {"n": 10**40 + 1}}})},
            422,
        ),
        ("POST", "/pcm/products", {"json": _product({"extensions": {"products(t)": {"n": 1e300}}})}, 422),
        # Repeated: only the last value (empty, "left out") was read, and the export was started.
        ("POST", "/pcm/products/export?useTemplateSlugs=%7B&useTemplateSlugs=", {}, 400),
    ]
    for method, path, options, status in cases:
        headers = {} if options.pop("no_auth", False) else dict(auth)
        headers |= options.pop("headers", {})
        count_case("regressions")
        quiet.before()
        answer = requests.request(method, f"{base}{path}", headers=headers, timeout=60, **options)
        count_answer(answer.status_code)
        check_answer(answer.status_code, answer.headers, answer.text, {201}, f"{method} {path[:60]}")
        assert answer.status_code == status, (method, path[:60], answer.text[:300])
        quiet.after(answer.status_code, f"{method} {path[:60]}")


_VALID = {"name": "Big", "commodity_type": "physical"}


def _product(attributes: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "product", "attributes": {**_VALID, **attributes}}}


def _product_text(attribute: str) -> str:
    return (
        '{"data":{"type":"product","attributes":{"name":"n","commodity_type":"digital",' + attribute + "}}}"
    )


def _run_cases(
    strategy: Any,
    kind: str,
    base: str,
    session: requests.Session,
    quiet: Quiet,
    ok: set[int],
) -> None:
    @PER_RUN
    @given(case=strategy)
    def run(case: Any) -> None:
        count_case(kind)
        quiet.before()
        response = case.call(base_url=base, session=session, timeout=60)
        count_answer(response.status_code)
        what = f"{case.method} {case.formatted_path} ({kind})"
        check_answer(response.status_code, response.headers, response.text, ok, what)
        quiet.after(response.status_code, what)
        case.validate_response(response, checks=CHECKS)

    run()
