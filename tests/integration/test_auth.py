"""POST /oauth/access_token and the authorizer, through the emulated API Gateway."""

from __future__ import annotations

import time

import jwt

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from local.stores import request_token
from product_export.adapters.keys_table import KeysTable
from product_export.adapters.signing_key import SigningKeys
from product_export.auth.tokens import issue_token
from tests.support import ApiClient, load_event

UNAUTHORIZED = {"errors": [{"status": "401", "title": "Unable to validate access token"}]}
FORBIDDEN = {"errors": [{"status": "403", "title": "Forbidden"}]}


def test_client_credentials_answer_is_flat_and_as_the_contract_says(
    stack: EmbeddedStack, store: Store
) -> None:
    response = request_token(
        stack,
        {
            "grant_type": "client_credentials",
            "client_id": store.client_id,
            "client_secret": store.client_secret,
        },
    )
    assert response.status == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "expires", "identifier"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["identifier"] == "client_credentials"
    assert abs(body["expires"] - (time.time() + 3600)) < 60


def test_implicit_grant_needs_only_the_client_id(stack: EmbeddedStack, store: Store) -> None:
    response = request_token(stack, {"grant_type": "implicit", "client_id": store.client_id})
    assert response.status == 200
    assert response.json()["identifier"] == "implicit"


def test_sample_token_event_reaches_the_handler(stack: EmbeddedStack, store: Store) -> None:
    event = load_event("token-client-credentials.json")
    event["body"] = (
        event["body"]
        .replace("0f6b5c1a2d3e4f5a6b7c8d9e0f1a2b3c", store.client_id)
        .replace("replace-with-the-secret", store.client_secret)
    )
    result = stack.dispatcher.invoke("TokenFunction", event)
    assert result["statusCode"] == 200
    assert '"identifier": "client_credentials"' in result["body"]


def test_wrong_secret_unknown_client_and_bad_grants(stack: EmbeddedStack, store: Store) -> None:
    wrong = request_token(
        stack, {"grant_type": "client_credentials", "client_id": store.client_id, "client_secret": "nope"}
    )
    assert wrong.status == 401
    unknown = request_token(stack, {"grant_type": "implicit", "client_id": "unknown"})
    assert unknown.status == 401
    bad_grant = request_token(stack, {"grant_type": "password", "client_id": store.client_id})
    assert bad_grant.status == 400
    assert "grant_type" in bad_grant.json()["errors"][0]["detail"]
    missing = request_token(stack, {"grant_type": "client_credentials", "client_id": store.client_id})
    assert missing.status == 400


def test_missing_malformed_forged_and_expired_tokens_get_401(stack: EmbeddedStack, store: Store) -> None:
    key = SigningKeys(stack.refs["TokenSigningSecret"]).current()
    expired, _ = issue_token(
        key,
        store_id=store.store_id,
        client_id=store.client_id,
        grant="client_credentials",
        now=int(time.time()) - 7200,
    )
    forged, _ = issue_token(
        "not-the-key", store_id=store.store_id, client_id=store.client_id, grant="client_credentials"
    )
    unsigned = jwt.encode(
        {"sub": store.client_id, "store": store.store_id, "grant": "client_credentials"},
        key=None,
        algorithm="none",
    )
    for token in (None, "garbage", expired, forged, unsigned):
        response = ApiClient(stack, token).get("/pcm/products")
        assert response.status == 401, token
        assert response.json() == UNAUTHORIZED


def test_scheme_other_than_bearer_is_rejected(stack: EmbeddedStack, store: Store) -> None:
    assert stack.api is not None
    response = stack.api.request(
        "GET", "/pcm/products", headers={"Authorization": f"Basic {store.admin_token}"}
    )
    assert response.status == 401


def test_shopper_token_is_forbidden_on_product_writes(stack: EmbeddedStack, shopper: ApiClient) -> None:
    for method, path in [
        ("POST", "/pcm/products"),
        ("PUT", "/pcm/products/x"),
        ("DELETE", "/pcm/products/x"),
    ]:
        response = shopper.request(method, path)
        assert response.status == 403, (method, path)
        assert response.json() == FORBIDDEN


def test_deleted_application_key_stops_its_tokens(stack: EmbeddedStack, store: Store) -> None:
    assert stack.api is not None
    KeysTable(stack.refs["ApplicationKeysTable"]).delete(store.client_id)
    stack.api.flush_authorizer_cache()
    assert ApiClient(stack, store.admin_token).get("/pcm/products").status == 401


def test_authorizer_sample_event_allows_the_whole_api(stack: EmbeddedStack, store: Store) -> None:
    event = load_event("authorizer-token.json")
    event["authorizationToken"] = f"Bearer {store.admin_token}"
    policy = stack.dispatcher.invoke("AuthorizerFunction", event)
    statement = policy["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"][0].endswith("abc123/v1/*/*")
    assert policy["context"] == {
        "store_id": store.store_id,
        "grant": "client_credentials",
        "client_id": store.client_id,
    }


def test_unknown_route_is_a_json_404(admin: ApiClient) -> None:
    response = admin.get("/pcm/nothing-here")
    assert response.status == 404
    assert response.json()["errors"][0]["status"] == "404"
