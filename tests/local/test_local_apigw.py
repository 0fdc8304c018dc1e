from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from local.apigw import ApiGateway, evaluate_policy, match_path, parse_query
from local.lambdas import CallReal, LambdaContext
from local.stack import IN_PROCESS, EmbeddedStack

GOOD = {"X-Token": "Bearer good"}


@pytest.fixture
def api(stack: EmbeddedStack) -> ApiGateway:
    assert stack.api is not None
    return stack.api


@pytest.fixture
def authorizer_calls(stack: EmbeddedStack) -> list[str]:
    calls: list[str] = []

    def count(event: Any, context: LambdaContext, call_real: CallReal) -> Any:
        calls.append(event["methodArn"])
        return call_real(event)

    stack.dispatcher.intercept("Authorizer", count)
    return calls


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(api: ApiGateway) -> Iterator[Clock]:
    fake, real = Clock(), api.clock
    api.clock = fake
    yield fake
    api.clock = real


def _event(response: Any) -> dict[str, Any]:
    assert response.status == 200, response.body
    event: dict[str, Any] = response.json()["event"]
    return event


def test_route_with_path_parameters_and_authorizer_context(api: ApiGateway) -> None:
    response = api.request("GET", "/items/abc%20d", headers={**GOOD, "User-Agent": "pytest"})
    assert response.headers["X-Function"] == "toy-Items"
    assert response.multi_value_headers["Set-Cookie"] == ["a=1", "b=2"]
    assert response.json()["stack"] == "toy@us-east-1"
    assert response.json()["helper"] == "items helper"
    event = _event(response)
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/abc%20d"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "abc d"}
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["headers"]["X-Token"] == "Bearer good"
    assert event["multiValueHeaders"]["X-Token"] == ["Bearer good"]
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["resourcePath"] == "/items/{id}"
    assert context["path"] == "/v9/items/abc%20d"
    assert context["stage"] == "v9"
    assert context["apiId"] == api.api_id
    assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "pytest"}
    assert context["authorizer"]["principalId"] == "user-1"
    assert {k: context["authorizer"][k] for k in ("store_id", "limit", "admin")} == {
        "store_id": "store-1",
        "limit": "3",
        "admin": "true",
    }
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_query_string_is_decoded_like_api_gateway(api: ApiGateway) -> None:
    event = _event(api.request("GET", "/items", headers=GOOD, query="q=hello+world&tag=a&tag=b%2Fc&empty="))
    assert event["queryStringParameters"] == {"q": "hello world", "tag": "b/c", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "q": ["hello world"],
        "tag": ["a", "b/c"],
        "empty": [""],
    }
    in_path = _event(api.request("GET", "/items?filter=eq(sku,a+b)", headers=GOOD))
    assert in_path["queryStringParameters"] == {"filter": "eq(sku,a b)"}
    mapped = _event(api.request("GET", "/items", headers=GOOD, query={"a": "1", "b": ["2", "3"]}))
    assert mapped["multiValueQueryStringParameters"] == {"a": ["1"], "b": ["2", "3"]}


def test_bodies(api: ApiGateway) -> None:
    text = _event(api.request("POST", "/items/export", headers=GOOD, body='{"a": 1}'))
    assert (text["body"], text["isBase64Encoded"]) == ('{"a": 1}', False)
    utf8 = _event(api.request("POST", "/items/export", headers=GOOD, body="é".encode()))
    assert (utf8["body"], utf8["isBase64Encoded"]) == ("é", False)
    binary = _event(api.request("POST", "/items/export", headers=GOOD, body=b"\xff\x00"))
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\x00"


def test_unknown_route_and_method_mismatch_are_missing_authentication_token(
    api: ApiGateway, authorizer_calls: list[str]
) -> None:
    for method, path in [("GET", "/nothing"), ("DELETE", "/items"), ("GET", "/items/export"), ("GET", "/")]:
        response = api.request(method, path, headers=GOOD)
        assert response.status == 404, (method, path)
        assert response.json() == {"errors": [{"status": "404", "title": "Not Found"}]}
        assert response.headers["Content-Type"] == "application/json"
    assert authorizer_calls == []


def test_static_resource_beats_path_parameter(api: ApiGateway) -> None:
    assert _event(api.request("POST", "/items/export/", headers=GOOD))["resource"] == "/items/export"
    assert _event(api.request("GET", "/items/exports", headers=GOOD))["pathParameters"] == {"id": "exports"}


def test_unauthenticated_route_skips_the_authorizer(api: ApiGateway, authorizer_calls: list[str]) -> None:
    for method in ("GET", "PATCH"):
        event = _event(api.request(method, "/public"))
        assert event["httpMethod"] == method
        assert "authorizer" not in event["requestContext"]
    assert authorizer_calls == []


def test_missing_header_is_unauthorized_without_calling_the_authorizer(
    api: ApiGateway, authorizer_calls: list[str]
) -> None:
    response = api.request("GET", "/items")
    assert response.status == 401
    assert response.json() == {"errors": [{"status": "401", "title": "Unauthorized"}]}
    assert authorizer_calls == []
    assert api.request("GET", "/items", headers={"x-token": "Bearer good"}).status == 200


def test_authorizer_outcomes(api: ApiGateway) -> None:
    unauthorized = api.request("GET", "/items", headers={"X-Token": "Bearer nope"})
    assert unauthorized.status == 401
    denied = api.request("GET", "/items", headers={"X-Token": "Bearer deny"})
    assert denied.status == 403
    assert denied.json() == {
        "errors": [
            {
                "title": "Client error",
                "detail": "User is not authorized to access this resource with an explicit deny",
            }
        ]
    }
    failed = api.request("GET", "/items", headers={"X-Token": "Bearer boom"})
    assert failed.status == 500
    assert failed.json() == {"errors": [{"title": "Server error"}]}


def test_method_arn(api: ApiGateway, authorizer_calls: list[str]) -> None:
    api.request("GET", "/items/42", headers=GOOD)
    assert authorizer_calls == [f"arn:aws:execute-api:us-east-1:123456789012:{api.api_id}/v9/GET/items/42"]


def test_decision_is_cached_per_token_for_the_ttl(
    api: ApiGateway, authorizer_calls: list[str], clock: Clock
) -> None:
    assert api.ttl(api.spec.authorizers["Tokens"]) == 60
    assert api.request("GET", "/items", headers=GOOD).status == 200
    clock.now += 59
    assert api.request("GET", "/items/1", headers=GOOD).status == 200
    assert len(authorizer_calls) == 1
    clock.now += 2
    assert api.request("GET", "/items/1", headers=GOOD).status == 200
    assert len(authorizer_calls) == 2


def test_cached_policy_is_reused_for_other_routes(api: ApiGateway, authorizer_calls: list[str]) -> None:
    narrow = {"X-Token": "Bearer narrow"}
    assert api.request("GET", "/items/1", headers=narrow).status == 200
    # The policy allowed only GET /items/1; API Gateway evaluates the cached one for the next route.
    denied = api.request("GET", "/items/2", headers=narrow)
    assert denied.status == 403
    assert denied.json()["errors"][0]["detail"] == "User is not authorized to access this resource"
    assert len(authorizer_calls) == 1


def test_ttl_zero_disables_the_cache(stack: EmbeddedStack) -> None:
    with type(stack).create(
        stack.template, parameters={"CacheTtl": "0"}, stack_name="nocache", lambdas=IN_PROCESS
    ) as other:
        assert other.api is not None
        calls: list[str] = []

        def count(event: Any, context: LambdaContext, call_real: CallReal) -> Any:
            calls.append(context.function_name)
            return call_real(event)

        other.dispatcher.intercept("Authorizer", count)
        for _ in range(2):
            assert other.api.request("GET", "/items", headers=GOOD).status == 200
        assert calls == ["nocache-Authorizer", "nocache-Authorizer"]


def test_handler_exception_is_502(api: ApiGateway) -> None:
    response = api.request("GET", "/boom", headers=GOOD)
    assert response.status == 502
    assert response.json() == {"errors": [{"title": "Server error"}]}
    assert isinstance(api.last_error, ValueError)


def test_helpers() -> None:
    assert parse_query("a=1&a=2&b=%26+x&flag") == {"a": ["1", "2"], "b": ["& x"], "flag": [""]}
    assert match_path("/a/{id}", "/a/b/c") is None
    assert match_path("/files/{path+}", "/files/a/b%20c") == ((2, 0), {"path": "a/b c"})
    arn = "arn:aws:execute-api:us-east-1:1:api/v1/GET/items"
    allow = {
        "Effect": "Allow",
        "Action": "execute-api:Invoke",
        "Resource": "arn:aws:execute-api:*:*:api/*/GET/*",
    }
    deny = {"Effect": "Deny", "Action": ["execute-api:Invoke"], "Resource": [arn]}
    assert evaluate_policy({"Statement": [allow]}, arn) == "ALLOW"
    assert evaluate_policy({"Statement": allow}, arn.replace("GET", "PUT")) == "IMPLICIT_DENY"
    assert evaluate_policy({"Statement": [allow, deny]}, arn) == "EXPLICIT_DENY"
    assert evaluate_policy({"Statement": [{**allow, "Action": "s3:*"}]}, arn) == "IMPLICIT_DENY"
