"""API Gateway (REST API, Lambda proxy integration, TOKEN authorizer) emulated in-process."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus

from local.template import AuthorizerSpec, Route, Template

if TYPE_CHECKING:
    from local.stack import EmbeddedStack

LOG = logging.getLogger(__name__)

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
Query = str | Mapping[str, str | Sequence[str]]

# Response type -> (default status, $context.error.message).
_GATEWAY_DEFAULTS: dict[str, tuple[int, str | None]] = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None),
    "AUTHORIZER_FAILURE": (500, None),
    "BAD_REQUEST_PARAMETERS": (400, None),
    "BAD_REQUEST_BODY": (400, None),
    "RESOURCE_NOT_FOUND": (404, None),
    "INVALID_API_KEY": (403, "Forbidden"),
    "INVALID_SIGNATURE": (403, None),
    "EXPIRED_TOKEN": (403, None),
    "WAF_FILTERED": (403, "Forbidden"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported Media Type"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "THROTTLED": (429, "Too Many Requests"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "DEFAULT_4XX": (400, None),
    "DEFAULT_5XX": (500, "Internal server error"),
}
# Lambda hands an execution environment one event at a time. With in-process handlers every
# function runs in this one process, and Powertools' REST resolver keeps the current event in a
# class attribute that all resolvers share (BaseRouter.current_event): two API requests in flight
# at once, even to two functions, could each be answered with the other's caller or parameters
# (bench/load.py saw an export of one store answered with another store's job). So in-process API
# integrations take turns; on the runner each worker is a process of its own and they do not.
API_INTEGRATIONS = threading.Lock()
_EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z][A-Za-z.]*[A-Za-z])")


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: str
    multi_value_headers: dict[str, list[str]] = field(default_factory=dict)
    binary: bytes | None = None  # the decoded body when the integration returned isBase64Encoded

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content(self) -> bytes:
        return self.binary if self.binary is not None else self.body.encode("utf-8")


class _Rejected(Exception):
    """Ends a request with a gateway response."""

    def __init__(self, response_type: str, message: str | None = None, status: int | None = None) -> None:
        super().__init__(response_type)
        self.response_type = response_type
        self.message = message if message is not None else _GATEWAY_DEFAULTS[response_type][1]
        self.status = status


@dataclass
class _CachedPolicy:
    expires: float
    output: dict[str, Any]


def parse_query(query: Query | None) -> dict[str, list[str]]:
    """A raw query string as API Gateway decodes it (percent-decoding, '+' is a space), or a mapping."""
    if query is None:
        return {}
    if not isinstance(query, str):
        return {k: [v] if isinstance(v, str) else [str(i) for i in v] for k, v in query.items()}
    values: dict[str, list[str]] = {}
    for pair in query.lstrip("?").split("&"):
        if pair:
            key, _, value = pair.partition("=")
            values.setdefault(unquote_plus(key), []).append(unquote_plus(value))
    return values


def _header_pairs(headers: Headers | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(k), str(v)) for k, v in pairs]


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def evaluate_policy(policy: Mapping[str, Any], method_arn: str) -> str:
    """ALLOW, EXPLICIT_DENY or IMPLICIT_DENY for execute-api:Invoke on ``method_arn``."""
    allowed = False
    for statement in _as_list(policy.get("Statement", [])):
        actions = [str(a) for a in _as_list(statement.get("Action", []))]
        resources = [str(r) for r in _as_list(statement.get("Resource", []))]
        if not any(_wildcard(a.lower()).fullmatch("execute-api:invoke") for a in actions):
            continue
        if not any(_wildcard(r).fullmatch(method_arn) for r in resources):
            continue
        effect = str(statement.get("Effect", "")).lower()
        if effect == "deny":
            return "EXPLICIT_DENY"
        allowed = allowed or effect == "allow"
    return "ALLOW" if allowed else "IMPLICIT_DENY"


def _segments(path: str) -> list[str]:
    return [s for s in path.strip("/").split("/") if s] if path.strip("/") else []


def match_path(template: str, path: str) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """(specificity, path parameters) when ``path`` matches the resource path ``template``."""
    wanted, actual = _segments(template), _segments(path)
    score: list[int] = []
    params: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        if segment.startswith("{") and segment.endswith("+}"):
            if index >= len(actual) or index != len(wanted) - 1:
                return None
            params[segment[1:-2]] = unquote("/".join(actual[index:]))
            return (*score, 0), params
        if index >= len(actual):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            params[segment[1:-1]] = unquote(actual[index])
            score.append(1)
        elif segment == actual[index]:
            score.append(2)
        else:
            return None
    return (tuple(score), params) if len(wanted) == len(actual) else None


def _context_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise ValueError(f"authorizer context values must be strings, numbers or booleans, not {value!r}")


class ApiGateway:
    def __init__(
        self, template: Template, stack: EmbeddedStack, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        spec = template.api()
        if spec is None:
            raise ValueError("the template has no API")
        self.spec = spec
        self.stack = stack
        self.clock = clock
        self.api_id = stack.refs[spec.logical_id]
        self.stage = spec.stage_name
        self.routes: list[tuple[str, Route]] = template.routes()
        self.gateway_responses: dict[str, Any] = stack.resolve(spec.gateway_responses)
        self._cache: dict[tuple[str, str], _CachedPolicy] = {}
        self.last_error: BaseException | None = None  # the last integration failure (a 502), for debugging

    # --- the request ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Headers | None = None,
        query: Query | None = None,
        body: str | bytes | None = None,
    ) -> ApiResponse:
        method = method.upper()
        path, _, raw_query = path.partition("?")
        path = "/" + path.strip("/")
        request_id = str(uuid.uuid4())
        try:
            logical_id, route, params = self._route(method, path)
            header_pairs = self._with_gateway_headers(_header_pairs(headers))
            authorizer = self._authorize(route, method, path, header_pairs) if route.authorizer else None
            query_values = parse_query(raw_query or query)
            event = self._event(
                method,
                path,
                route,
                params=params,
                headers=header_pairs,
                query=query_values,
                body=body,
                authorizer=authorizer,
            )
            event["requestContext"]["requestId"] = request_id
        except _Rejected as rejected:
            return self._gateway_response(rejected, request_id)
        try:
            if self.stack.dispatcher.in_process:
                with API_INTEGRATIONS:
                    result = self.stack.dispatcher.invoke(logical_id, event)
            else:  # a worker handles one event at a time, as a Lambda execution environment does
                result = self.stack.dispatcher.invoke(logical_id, event)
            return self._from_proxy_result(result, request_id)
        except Exception as exc:
            self.last_error = exc
            LOG.exception("integration %s failed", logical_id)
            return self._gateway_response(_Rejected("DEFAULT_5XX", status=502), request_id)

    def _route(self, method: str, path: str) -> tuple[str, Route, dict[str, str]]:
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for resource in {route.path for _, route in self.routes}:
            matched = match_path(resource, path)
            if matched and (best is None or matched[0] > best[0]):
                best = (matched[0], resource, matched[1])
        if best is not None:
            candidates = [(lid, r) for lid, r in self.routes if r.path == best[1]]
            for wanted in (method, "ANY"):
                for logical_id, route in candidates:
                    if route.method == wanted:
                        return logical_id, route, best[2]
        raise _Rejected("MISSING_AUTHENTICATION_TOKEN")

    def _with_gateway_headers(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        present = {name.lower() for name, _ in pairs}
        added = {
            "Host": f"{self.api_id}.execute-api.{self.stack.region}.amazonaws.com",
            "X-Forwarded-For": "127.0.0.1",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
        }
        return pairs + [(k, v) for k, v in added.items() if k.lower() not in present]

    # --- the authorizer -------------------------------------------------------------------------

    def method_arn(self, method: str, path: str) -> str:
        partition = self.stack.refs["AWS::Partition"]
        return (
            f"arn:{partition}:execute-api:{self.stack.region}:{self.stack.account_id}:"
            f"{self.api_id}/{self.stage}/{method}/{path.lstrip('/')}"
        )

    def ttl(self, authorizer: AuthorizerSpec) -> int:
        value = authorizer.reauthorize_every
        return 300 if value is None else int(self.stack.resolve(value))

    def flush_authorizer_cache(self) -> None:
        self._cache.clear()

    def _authorize(
        self, route: Route, method: str, path: str, headers: list[tuple[str, str]]
    ) -> dict[str, Any]:
        authorizer = self.spec.authorizers[route.authorizer or ""]
        token = next((v for k, v in reversed(headers) if k.lower() == authorizer.header.lower()), "")
        if not token:
            raise _Rejected("UNAUTHORIZED")
        if authorizer.validation_expression and not re.fullmatch(authorizer.validation_expression, token):
            raise _Rejected("UNAUTHORIZED")
        method_arn = self.method_arn(method, path)
        key = (authorizer.name, token)
        cached = self._cache.get(key)
        if cached is not None and cached.expires > self.clock():
            output = cached.output
        else:
            output = self._invoke_authorizer(authorizer, token, method_arn)
            ttl = self.ttl(authorizer)
            if ttl > 0:
                self._cache[key] = _CachedPolicy(self.clock() + ttl, output)
        decision = evaluate_policy(output["policyDocument"], method_arn)
        if decision == "EXPLICIT_DENY":
            raise _Rejected("ACCESS_DENIED", _EXPLICIT_DENY)
        if decision == "IMPLICIT_DENY":
            raise _Rejected("ACCESS_DENIED")
        context = {k: _context_value(v) for k, v in (output.get("context") or {}).items()}
        return {**context, "principalId": output.get("principalId"), "integrationLatency": 0}

    def _invoke_authorizer(self, authorizer: AuthorizerSpec, token: str, method_arn: str) -> dict[str, Any]:
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        try:
            output = self.stack.dispatcher.invoke(authorizer.function_logical_id, event)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                raise _Rejected("UNAUTHORIZED") from exc
            LOG.warning("authorizer %s failed: %r", authorizer.function_logical_id, exc)
            raise _Rejected("AUTHORIZER_CONFIGURATION_ERROR") from exc
        valid = isinstance(output, dict) and isinstance(output.get("policyDocument"), dict)
        try:
            for value in (output.get("context") or {}).values() if valid else ():
                _context_value(value)
        except ValueError:
            valid = False
        if not valid:
            LOG.warning("authorizer %s returned an invalid response: %r", authorizer.name, output)
            raise _Rejected("AUTHORIZER_CONFIGURATION_ERROR")
        return dict(output)

    # --- events and responses -------------------------------------------------------------------

    def _event(
        self,
        method: str,
        path: str,
        route: Route,
        *,
        params: dict[str, str],
        headers: list[tuple[str, str]],
        query: dict[str, list[str]],
        body: str | bytes | None,
        authorizer: dict[str, Any] | None,
    ) -> dict[str, Any]:
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            multi_headers.setdefault(name, []).append(value)
        is_base64, text = False, body
        if isinstance(body, bytes):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text, is_base64 = base64.b64encode(body).decode("ascii"), True
        now = datetime.now(UTC)
        user_agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
        request_context: dict[str, Any] = {
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{self.stage}{path}",
            "accountId": self.stack.account_id,
            "protocol": "HTTP/1.1",
            "stage": self.stage,
            "domainPrefix": self.api_id,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": "",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": user_agent},
            "domainName": f"{self.api_id}.execute-api.{self.stack.region}.amazonaws.com",
            "apiId": self.api_id,
        }
        if authorizer is not None:
            request_context["authorizer"] = authorizer
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": text,
            "isBase64Encoded": is_base64,
        }

    def _from_proxy_result(self, result: Any, request_id: str) -> ApiResponse:
        if not isinstance(result, dict) or "statusCode" not in result:
            raise ValueError(f"malformed Lambda proxy response: {result!r}")
        multi: dict[str, list[str]] = {
            str(k): [str(v) for v in values] for k, values in (result.get("multiValueHeaders") or {}).items()
        }
        for name, value in (result.get("headers") or {}).items():
            if str(value) not in multi.setdefault(str(name), []):
                multi[str(name)].append(str(value))
        if not any(name.lower() == "content-type" for name in multi):
            multi["Content-Type"] = ["application/json"]
        multi["x-amzn-RequestId"] = [request_id]
        body = result.get("body") or ""
        binary = None
        if result.get("isBase64Encoded"):
            try:
                binary = base64.b64decode(body, validate=True)
            except binascii.Error as exc:
                raise ValueError("isBase64Encoded body is not base64") from exc
            body = binary.decode("utf-8", errors="replace")
        return ApiResponse(
            status=int(result["statusCode"]),
            headers={name: values[-1] for name, values in multi.items()},
            body=str(body),
            multi_value_headers=multi,
            binary=binary,
        )

    def _gateway_response(self, rejected: _Rejected, request_id: str) -> ApiResponse:
        kind = rejected.response_type
        default_status = rejected.status or _GATEWAY_DEFAULTS[kind][0]
        fallback = self.gateway_responses.get("DEFAULT_5XX" if default_status >= 500 else "DEFAULT_4XX") or {}
        own = self.gateway_responses.get(kind) or {}
        status = int(own.get("StatusCode") or default_status)
        template = (own.get("ResponseTemplates") or {}).get("application/json") or (
            fallback.get("ResponseTemplates") or {}
        ).get("application/json")
        values = {
            "error.messageString": json.dumps(rejected.message),
            "error.message": rejected.message or "",
            "error.responseType": kind,
            "requestId": request_id,
            "stage": self.stage,
            "apiId": self.api_id,
        }
        if template is None:
            template = '{"message":$context.error.messageString}'
        body = _CONTEXT_VARIABLE.sub(lambda m: values.get(m.group(1), ""), template)
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
        for source in (fallback, own):
            for name, value in ((source.get("ResponseParameters") or {}).get("Headers") or {}).items():
                headers[name] = str(value).strip("'")
        return ApiResponse(
            status=status,
            headers=headers,
            body=body,
            multi_value_headers={k: [v] for k, v in headers.items()},
        )
