"""Generated bad input through the real handlers: always a JSON:API 4xx, never a 5xx, nothing changes."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.stack import EmbeddedStack
from tests.support import ApiClient

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FILTER_ALPHABET = st.sampled_from(
    [*list("eqlikn()|:,'\"\\*_.abc 12-TZ"), "eq(", "in(", "sku", "extensions.", "\x00"]
)


@SETTINGS
@given(text=st.one_of(st.text(max_size=80), st.lists(FILTER_ALPHABET, max_size=40).map("".join)))
def test_any_filter_on_list_and_export_is_200_or_400(
    stack: EmbeddedStack, admin: ApiClient, text: str
) -> None:
    listed = admin.get("/pcm/products", query={"filter": text})
    assert listed.status in (200, 400), listed.body
    exported = admin.post("/pcm/products/export", query={"filter": text})
    assert exported.status in (201, 400), exported.body
    assert listed.status == 200 or exported.status == 400, "list and export accept the same filters"
    if exported.status == 400:
        assert exported.json()["errors"][0]["status"] == "400"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@SETTINGS
@given(body=st.one_of(JSON_VALUES.map(json.dumps), st.text(max_size=200), st.binary(max_size=50).map(repr)))
def test_any_product_body_is_201_or_a_clear_4xx(stack: EmbeddedStack, admin: ApiClient, body: str) -> None:
    response = admin.post("/pcm/products", body=body, headers={"Content-Type": "application/json"})
    assert response.status in (201, 400, 409, 422), response.body
    if response.status != 201:
        error = response.json()["errors"][0]
        assert error["status"] == str(response.status) and error["title"]


@SETTINGS
@given(body=JSON_VALUES.map(json.dumps))
def test_any_export_body_is_201_or_422(stack: EmbeddedStack, admin: ApiClient, body: str) -> None:
    response = admin.post("/pcm/products/export", body=body, headers={"Content-Type": "application/json"})
    assert response.status in (201, 400, 422), response.body
