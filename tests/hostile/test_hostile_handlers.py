"""Generated hostile input through the emulated API Gateway and the real handlers (moto stack).

Each case: the answer is a correct 2xx or a JSON:API 4xx, never a 5xx, and a rejected request leaves
every table item and every bucket object as it was.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local.apigw import ApiResponse
from local.stack import EmbeddedStack
from local.stores import DemoStore
from product_export.catalogue.models import ProductAttributes
from product_export.filters import FIELD_OPERATORS, MAX_FILTER_BYTES, MAX_FILTERS, OPERATORS
from tests.hostile.battery import HOSTILE, Quiet, check_answer, count_answer, count_case, settle
from tests.support import ApiClient, product

# Text that can travel in a URL or a JSON document (lone surrogates cannot be encoded at all).
TEXT = st.characters(exclude_categories=("Cs",))
CONTROL = st.characters(max_codepoint=0x1F) | st.sampled_from(["\x7f", "\u0085", "\u2028", "\ufeff"])
HOSTILE_TEXT = st.text(TEXT | CONTROL, max_size=40)


@pytest.fixture
def quiet(hostile_stack: EmbeddedStack) -> Quiet:
    """Per test: fixtures set up between tests change the state."""
    return Quiet(hostile_stack)


@pytest.fixture(scope="module")
def admin(hostile_stack: EmbeddedStack, hostile_store: DemoStore) -> ApiClient:
    return ApiClient(hostile_stack, hostile_store.admin_token)


@pytest.fixture(scope="module")
def existing(hostile_stack: EmbeddedStack, admin: ApiClient) -> Iterator[dict[str, str]]:
    """A product (one of three) and a finished export job of the store, for routes that need ids."""
    products = [admin.create_product(product(n)) for n in range(1, 4)]
    job = admin.export("eq(status,live)")
    settle(hostile_stack)
    yield {"product": products[0]["id"], "job": job["id"]}


def _send(
    stack: EmbeddedStack,
    method: str,
    path: str,
    *,
    token: str | None,
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
) -> ApiResponse:
    sent = {"Authorization": f"Bearer {token}"} if token else {}
    sent |= headers or {}
    assert stack.api is not None
    return stack.api.request(method, path, headers=sent, body=body)


def _run(
    quiet: Quiet,
    stack: EmbeddedStack,
    method: str,
    path: str,
    ok: set[int],
    kind: str,
    *,
    token: str | None,
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
) -> ApiResponse:
    count_case(kind)
    quiet.before()
    response = _send(stack, method, path, token=token, headers=headers, body=body)
    count_answer(response.status)
    what = f"{method} {path[:200]!r} headers={str(headers)[:200]} body={str(body)[:200]!r}"
    check_answer(response.status, response.headers, response.body, ok, what)
    quiet.after(response.status, what)
    return response


# --- filters --------------------------------------------------------------------------------------
KNOWN_FIELDS = [
    *sorted(FIELD_OPERATORS),
    *("mpn", "extensions.specs.size", "shopper_attributes.fit", "admin_attributes.cost"),
]
ODD_FIELDS = ["extensions", "extensions.", "extensions.x", "shopper_attributes.", "pk", "sk", "columns"]
FIELD = st.sampled_from(KNOWN_FIELDS) | st.sampled_from(ODD_FIELDS) | st.text(TEXT, min_size=1, max_size=12)
OPERATOR = (
    st.sampled_from(OPERATORS)
    | st.sampled_from(["ne", "contains", "between", "begins_with", "EQ", "eq ", "", "not", "or"])
    | st.text(TEXT, max_size=8)
)
VALUE = (
    st.text(TEXT | CONTROL, max_size=20)
    | st.text(TEXT, max_size=20).map(lambda v: "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'")
    | st.sampled_from(["*", "a*", "*a*", "\\", "'", '"', "'unterminated", "2024-01-01T00:00:00Z", "1e309"])
)
COMPARISON = st.builds(
    lambda op, field, values: f"{op}({field},{','.join(values)})",
    OPERATOR,
    FIELD,
    st.lists(VALUE, max_size=4),
)
EXPRESSION = st.recursive(
    COMPARISON,
    lambda inner: (
        st.lists(inner, min_size=2, max_size=4).map(":".join)
        | st.lists(inner, min_size=2, max_size=3).map(lambda parts: "(" + "|".join(parts) + ")")
    ),
    max_leaves=14,
)
FILTERS = st.one_of(
    EXPRESSION,
    HOSTILE_TEXT,
    st.integers(MAX_FILTER_BYTES - 20, 3 * MAX_FILTER_BYTES).map(lambda n: "eq(name," + "a" * n + ")"),
    st.integers(1, 5000).map(lambda depth: "(" * depth + "eq(sku,a)" + ")" * depth),
    st.integers(MAX_FILTERS, 20 * MAX_FILTERS).map(lambda n: ":".join(f"eq(sku,s{i})" for i in range(n))),
)


QUERIES = st.one_of(
    FILTERS.map(lambda text: urllib.parse.urlencode({"filter": text}, quote_via=urllib.parse.quote)),
    # Arbitrary bytes percent-encoded as they are: invalid UTF-8 in the query string.
    st.binary(max_size=30).map(lambda raw: "filter=" + urllib.parse.quote_from_bytes(raw, safe="(),:|*")),
)


@HOSTILE
@given(query=QUERIES)
def test_hostile_filters_get_200_or_a_json_api_400(
    hostile_stack: EmbeddedStack, hostile_store: DemoStore, quiet: Quiet, query: str
) -> None:
    token = hostile_store.admin_token
    listed = _run(quiet, hostile_stack, "GET", f"/pcm/products?{query}", {200}, "filter", token=token)
    exported = _run(
        quiet, hostile_stack, "POST", f"/pcm/products/export?{query}", {201}, "filter", token=token
    )
    assert (listed.status == 200) == (exported.status == 201), f"list and export disagree on {query!r}"


# --- bodies ---------------------------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4),
    max_leaves=20,
)
ATTRIBUTE_NAMES = st.sampled_from(sorted(ProductAttributes.model_fields)) | st.text(TEXT, max_size=10)
PRODUCT_DOCUMENTS = st.fixed_dictionaries(
    {
        "data": st.fixed_dictionaries(
            {
                "type": st.sampled_from(["product", "Product", "products", "", "product-export"]),
                "attributes": st.dictionaries(ATTRIBUTE_NAMES, JSON_VALUES, max_size=6),
            },
            optional={"id": JSON_VALUES, "relationships": JSON_VALUES, "links": JSON_VALUES},
        )
    },
    optional={"included": JSON_VALUES, "meta": JSON_VALUES},
)
VALID = {"name": "Hostile", "commodity_type": "physical"}


def _nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "null" + "}" * depth


def _deep_document(depth: int, kind: str, where: str) -> str:
    nested = _nested(depth, kind)
    if where == "top":
        return nested
    if where == "component":  # components take extra fields: the nesting reaches the storage layer
        inner = f'{{"name":"c","options":[],"extra":{nested}}}'
        attributes = json.dumps(VALID)[:-1] + f',"components":{{"c":{inner}}}}}'
        return f'{{"data":{{"type":"product","attributes":{attributes}}}}}'
    return f'{{"data":{{"type":"product","attributes":{{"name":{nested}}}}}}}'


def _huge_document(size: int, shape: str) -> str:
    if shape == "description":
        attributes: dict[str, Any] = {**VALID, "description": "x" * size}
    elif shape == "many-attributes":
        attributes = {**VALID, "shopper_attributes": {f"k{i}": "v" * 90 for i in range(size // 100)}}
    elif shape == "many-template-fields":
        fields = {f"f{i}": None for i in range(size // 10)}
        attributes = {**VALID, "extensions": {"products(" + "t" * 120 + ")": fields}}
    else:
        attributes = {**VALID, "tags": ["t"] * (size // 4)}
    return json.dumps({"data": {"type": "product", "attributes": attributes}})


BODIES = st.one_of(
    JSON_VALUES.map(json.dumps),
    PRODUCT_DOCUMENTS.map(json.dumps),
    PRODUCT_DOCUMENTS.map(lambda doc: json.dumps(doc, ensure_ascii=False)),
    HOSTILE_TEXT,
    st.binary(max_size=80),
    # JSON whose strings hold raw control characters or invalid UTF-8.
    st.builds(lambda c: f'{{"data":{{"type":"product","attributes":{{"name":"a{c}b"}}}}}}', CONTROL),
    st.binary(min_size=1, max_size=4).map(
        lambda b: (
            b'{"data":{"type":"product","attributes":{"name":"\xff' + b + b'","commodity_type":"digital"}}}'
        )
    ),
    st.builds(
        _deep_document,
        st.integers(1, 100_000),
        st.sampled_from(["array", "object"]),
        st.sampled_from(["top", "component", "attribute"]),
    ),
    st.builds(
        _huge_document,
        st.sampled_from([70_000, 300_000, 500_000, 1_200_000]),
        st.sampled_from(["description", "many-attributes", "many-template-fields", "tags"]),
    ),
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "",
        "application/json",
        "application/vnd.api+json",
        "APPLICATION/JSON; charset=utf-8",
        "application/json; charset=utf-16",
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "*/*",
        "application/json\x00",
        "ünïcode/typé",
    ]
)


@HOSTILE
@given(
    target=st.sampled_from(["create", "update", "export", "token"]),
    body=BODIES,
    content_type=CONTENT_TYPES,
)
def test_hostile_bodies_get_a_correct_2xx_or_a_json_api_4xx(
    hostile_stack: EmbeddedStack,
    hostile_store: DemoStore,
    quiet: Quiet,
    existing: dict[str, str],
    target: str,
    body: str | bytes,
    content_type: str | None,
) -> None:
    method, path, ok = {
        "create": ("POST", "/pcm/products", {201}),
        "update": ("PUT", f"/pcm/products/{existing['product']}", {200}),
        "export": ("POST", "/pcm/products/export", {201}),
        "token": ("POST", "/oauth/access_token", {200}),
    }[target]
    headers = {} if content_type is None else {"Content-Type": content_type}
    token = None if target == "token" else hostile_store.admin_token
    _run(quiet, hostile_stack, method, path, ok, "body", token=token, headers=headers, body=body)


# --- pagination -----------------------------------------------------------------------------------
PAGE_VALUES = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats().map(str),
    st.text(TEXT | CONTROL, max_size=12),
    st.sampled_from(
        ["²", "٣", "\uff11", "0x10", "1e3", "+5", " 5", "5 ", "-0", "", "9" * 5000, "[]", "null"]
    ),
)


@HOSTILE
@given(
    route=st.sampled_from(["products", "jobs", "errors"]),
    pairs=st.lists(
        st.tuples(
            st.sampled_from(["page[offset]", "page[limit]", "page", "page[limit][]", "page[]"]), PAGE_VALUES
        ),
        max_size=3,
    ),
)
def test_absurd_pagination_gets_200_or_a_json_api_400(
    hostile_stack: EmbeddedStack,
    hostile_store: DemoStore,
    quiet: Quiet,
    existing: dict[str, str],
    route: str,
    pairs: list[tuple[str, str]],
) -> None:
    path = {"products": "/pcm/products", "jobs": "/pcm/jobs", "errors": f"/pcm/jobs/{existing['job']}/errors"}
    query = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
    response = _run(
        quiet,
        hostile_stack,
        "GET",
        f"{path[route]}?{query}",
        {200},
        "pagination",
        token=hostile_store.admin_token,
    )
    if response.status == 200:
        limit = response.json().get("meta", {}).get("page", {}).get("limit")
        assert limit is None or 1 <= limit <= 100


# --- ids in paths ---------------------------------------------------------------------------------
TRAVERSAL = [
    "..",
    "../..",
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e",
    "%252e%252e%252f",
    "....//....//",
    "..\\..\\windows\\win.ini",
    "%00",
    "%ff%fe",
    "job#x",
    "x#00#unique",
    " ",
    "%20",
    "*",
    "null",
]
IDS = st.one_of(
    st.sampled_from(TRAVERSAL),
    st.text(TEXT | CONTROL, min_size=1, max_size=40),
    st.integers(100, 20_000).map(lambda n: "a" * n),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: f"{u}/../{u}"),
    st.uuids().map(str),
)


@HOSTILE
@given(
    route=st.sampled_from(
        [
            ("GET", "/pcm/products/{}"),
            ("PUT", "/pcm/products/{}"),
            ("DELETE", "/pcm/products/{}"),
            ("GET", "/pcm/jobs/{}"),
            ("GET", "/pcm/jobs/{}/errors"),
            ("POST", "/pcm/jobs/{}/cancel"),
        ]
    ),
    product_id=IDS,
    encode=st.booleans(),
)
def test_hostile_ids_in_paths_get_a_json_api_4xx(
    hostile_stack: EmbeddedStack,
    hostile_store: DemoStore,
    quiet: Quiet,
    existing: dict[str, str],
    route: tuple[str, str],
    product_id: str,
    encode: bool,
) -> None:
    method, template = route
    path = template.format(urllib.parse.quote(product_id, safe="") if encode else product_id)
    body = json.dumps({"data": {"type": "product", "attributes": {"name": "renamed"}}})
    # None of these ids exists: never a 2xx, but for a raw "?" that leaves a collection's path.
    collection = path.partition("?")[0].rstrip("/") in ("/pcm/products", "/pcm/jobs")
    _run(
        quiet,
        hostile_stack,
        method,
        path,
        {200} if method == "GET" and collection else set(),
        "path id",
        token=hostile_store.admin_token,
        headers={"Content-Type": "application/json"},
        body=body if method == "PUT" else None,
    )


# --- headers --------------------------------------------------------------------------------------
# What HTTP can carry in a header value: Latin-1 without CR, LF or NUL.
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"))
LONG = st.integers(1_000, 9_000)


@HOSTILE
@given(
    authorization=st.one_of(
        st.none(),
        st.just("valid"),
        st.just("shopper"),
        HEADER_TEXT,
        LONG.map(lambda n: "Bearer " + "x" * n),
        st.builds(lambda t, junk: f"Bearer {t}{junk}", st.just("valid"), HEADER_TEXT.filter(bool)),
        st.sampled_from(["Bearer", "Bearer ", "bearer  x.y.z", "Basic dXNlcjpwYXNz", "Bearer a.b.c"]),
    ),
    idempotency_key=st.one_of(st.none(), HEADER_TEXT, LONG.map(lambda n: "k" * n)),
    extra=st.one_of(st.none(), LONG.map(lambda n: "v" * n), HEADER_TEXT),
    accept=st.sampled_from([None, "*/*", "text/html", "application/xml", "application/vnd.api+json; ext=x"]),
    route=st.sampled_from([("GET", "/pcm/products", {200}), ("POST", "/pcm/products/export", {201})]),
)
def test_hostile_headers_get_a_correct_2xx_or_a_json_api_4xx(
    hostile_stack: EmbeddedStack,
    hostile_store: DemoStore,
    quiet: Quiet,
    authorization: str | None,
    idempotency_key: str | None,
    extra: str | None,
    accept: str | None,
    route: tuple[str, str, set[int]],
) -> None:
    tokens = {"valid": hostile_store.admin_token, "shopper": hostile_store.shopper_token}
    headers: dict[str, str] = {}
    if authorization is not None:
        headers["Authorization"] = (
            f"Bearer {tokens[authorization]}"
            if authorization in tokens
            else authorization.replace("valid", hostile_store.admin_token)
        )
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
    if extra is not None:
        headers["X-Hostile"] = extra
    if accept is not None:
        headers["Accept"] = accept
    method, path, ok = route
    _run(quiet, hostile_stack, method, path, ok, "headers", token=None, headers=headers)
