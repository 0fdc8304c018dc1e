"""Tokens and the authorizer, attacked: forged, unsigned, expired, early, foreign, tampered, revoked,
replayed from the authorizer's cache; and the signing key's rotation without downtime."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from local.stores import request_token
from product_export.adapters import signing_key as signing_key_adapter
from product_export.adapters.keys_table import KeysTable
from product_export.auth.service import AuthService
from product_export.auth.tokens import AUDIENCE, ISSUER, KeyRing, issue_token, key_id, verify_token
from tests.support import ApiClient
from tools import rotate_signing_key as rotate_tool

UNAUTHORIZED = {"errors": [{"status": "401", "title": "Unable to validate access token"}]}
FORBIDDEN = {"errors": [{"status": "403", "title": "Forbidden"}]}
ADMIN_ROUTES = [
    ("POST", "/pcm/products"),
    ("PUT", "/pcm/products/00000000-0000-4000-8000-000000000000"),
    ("DELETE", "/pcm/products/00000000-0000-4000-8000-000000000000"),
    ("POST", "/pcm/products/export"),
    ("GET", "/pcm/jobs"),
    ("GET", "/pcm/jobs/00000000-0000-7000-8000-000000000000"),
    ("GET", "/pcm/jobs/00000000-0000-7000-8000-000000000000/errors"),
    ("POST", "/pcm/jobs/00000000-0000-7000-8000-000000000000/cancel"),
    ("GET", "/pcm/settings/webhook"),
]


def _ring(stack: EmbeddedStack) -> KeyRing:
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.refs["TokenSigningSecret"])
    return KeyRing.parse(secret["SecretString"])


def _claims(store: Store, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": store.client_id,
        "store": store.store_id,
        "grant": "client_credentials",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_template_provisions_a_key_ring_and_tokens_name_their_key(
    stack: EmbeddedStack, store: Store
) -> None:
    ring = _ring(stack)
    assert len(ring.current) == 64 and ring.previous is None
    header = jwt.get_unverified_header(store.admin_token)
    assert header == {"alg": "HS256", "kid": key_id(ring.current), "typ": "JWT"}
    assert ring.current not in store.admin_token and ring.current[:16] not in header["kid"]


def test_every_kind_of_bad_token_is_a_401(stack: EmbeddedStack, store: Store, other_store: Store) -> None:
    ring = _ring(stack)
    kid = {"kid": key_id(ring.current)}
    now = int(time.time())
    good = store.admin_token
    head, payload, signature = good.split(".")
    other_payload = _b64(json.dumps(_claims(other_store)).encode())
    bad = {
        "forged signature (another key, the real kid)": jwt.encode(_claims(store), "k" * 64, headers=kid),
        "alg none": jwt.encode(_claims(store), None, algorithm="none", headers=kid),
        "alg none, hand made": f"{_b64(json.dumps({'alg': 'none', **kid}).encode())}.{payload}.",
        "HS512 with the real key": jwt.encode(_claims(store), ring.current, algorithm="HS512", headers=kid),
        "expired": jwt.encode(
            _claims(store, iat=now - 7200, nbf=now - 7200, exp=now - 3600), ring.current, headers=kid
        ),
        "not yet valid": jwt.encode(_claims(store, nbf=now + 600, exp=now + 1200), ring.current, headers=kid),
        "another audience": jwt.encode(_claims(store, aud="admin"), ring.current, headers=kid),
        "another issuer": jwt.encode(_claims(store, iss="elsewhere"), ring.current, headers=kid),
        "no kid": jwt.encode(_claims(store), ring.current),
        "unknown kid": jwt.encode(_claims(store), ring.current, headers={"kid": "0" * 16}),
        "store claim swapped, signature kept": f"{head}.{other_payload}.{signature}",
        "signature of another token": f"{head}.{payload}.{other_store.admin_token.split('.')[2]}",
        "truncated": good[:-3],
        "garbage": "not.a.token",
    }
    for name, token in bad.items():
        response = ApiClient(stack, token).get("/pcm/products")
        assert (response.status, response.json()) == (401, UNAUTHORIZED), name
    assert ApiClient(stack, good).get("/pcm/products").status == 200, "the untouched token still works"


def test_a_shopper_token_is_refused_on_every_administrator_route_by_the_gateway(
    stack: EmbeddedStack, store: Store
) -> None:
    assert stack.api is not None
    calls: list[str] = []
    for logical_id in ("ProductsApiFunction", "JobsApiFunction", "WebhookSettingsFunction"):
        stack.dispatcher.intercept(
            logical_id, lambda e, c, real, lid=logical_id: calls.append(lid) or real(e)
        )
    shopper = ApiClient(stack, store.shopper_token)
    assert shopper.get("/pcm/products").status == 200  # its one kind of route, decision now cached
    for method, path in ADMIN_ROUTES:
        response = shopper.request(method, path, json_body={} if method in ("POST", "PUT") else None)
        assert (response.status, response.json()) == (403, FORBIDDEN), (method, path)
    assert calls == ["ProductsApiFunction"], "no administrator route's function ran for the shopper token"


def test_the_cached_decision_is_the_tokens_own_on_every_route_and_store(
    stack: EmbeddedStack, store: Store, other_store: Store
) -> None:
    assert stack.api is not None
    invocations: list[str] = []
    stack.dispatcher.intercept(
        "AuthorizerFunction", lambda e, c, real: invocations.append(e["authorizationToken"]) or real(e)
    )
    mine, theirs = ApiClient(stack, store.admin_token), ApiClient(stack, other_store.admin_token)
    created = theirs.create_product({"name": "B's", "sku": "B-1", "commodity_type": "physical"})
    for path in ("/pcm/products", "/pcm/jobs", f"/pcm/products/{created['id']}"):
        mine.get(path)
    assert len(invocations) == 2, "one decision per token, reused on every route"
    # The cached decision carries store A: on another route it still reads only A's partition.
    assert mine.get(f"/pcm/products/{created['id']}").status == 404
    assert theirs.get(f"/pcm/products/{created['id']}").status == 200
    assert len(invocations) == 2


@pytest.mark.stack_parameters(AuthorizerCacheTtl=300)
def test_a_deleted_keys_tokens_stop_within_the_stated_cache_lifetime(
    stack: EmbeddedStack, store: Store
) -> None:
    assert stack.api is not None
    now = [1000.0]
    stack.api.clock = lambda: now[0]
    client = ApiClient(stack, store.admin_token)
    assert client.get("/pcm/products").status == 200
    KeysTable(stack.refs["ApplicationKeysTable"]).delete(store.client_id)
    now[0] += 299
    assert client.get("/pcm/products").status == 200, "the cached decision lives AuthorizerCacheTtl seconds"
    now[0] += 2
    assert client.get("/pcm/products").status == 401, "then the deleted key's unexpired token is refused"
    fresh = ApiClient(stack, store.shopper_token)
    assert fresh.get("/pcm/products").status == 401, "a token not yet cached is refused at once"
    reissued = request_token(stack, {"grant_type": "implicit", "client_id": store.client_id})
    assert reissued.status == 401


@pytest.fixture
def fresh_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The authorizer may force a read of the secret now (no refresh in the last 10 s)."""
    monkeypatch.setattr(signing_key_adapter, "_last_refresh", [float("-inf")])
    yield


def test_rotation_keeps_old_tokens_valid_and_retirement_ends_them(
    stack: EmbeddedStack, store: Store, fresh_reads: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.api is not None
    secret_arn = stack.refs["TokenSigningSecret"]
    old_token = store.admin_token
    assert ApiClient(stack, old_token).get("/pcm/products").status == 200  # containers cache the ring

    before = _ring(stack)
    assert rotate_tool.main(["--secret", secret_arn]) == 0  # the documented step 1
    rotated = _ring(stack)
    assert rotated.previous == before.current and rotated.current != before.current
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"current_kid": rotated.current_kid, "previous_kid": before.current_kid}
    # A token container that already read the new ring signs with the new key; the authorizer's
    # cache still holds the old ring, sees an unknown kid and reads the secret again.
    new_token, _ = issue_token(
        rotated, store_id=store.store_id, client_id=store.client_id, grant="client_credentials"
    )
    stack.api.flush_authorizer_cache()
    assert ApiClient(stack, new_token).get("/pcm/products").status == 200
    assert ApiClient(stack, old_token).get("/pcm/products").status == 200, "the previous key still verifies"
    signing_key_adapter._provider.cache_clear()  # every container's cache has expired
    issued = request_token(stack, {"grant_type": "implicit", "client_id": store.client_id}).json()
    assert jwt.get_unverified_header(issued["access_token"])["kid"] == rotated.current_kid

    assert rotate_tool.main(["--secret", secret_arn, "--retire"]) == 0  # step 2
    assert _ring(stack) == KeyRing(rotated.current)
    assert rotated.current not in capsys.readouterr().out, "the tool prints key ids, never keys"
    signing_key_adapter._provider.cache_clear()
    stack.api.flush_authorizer_cache()
    assert ApiClient(stack, old_token).get("/pcm/products").status == 401, "retired: the old key is gone"
    assert ApiClient(stack, new_token).get("/pcm/products").status == 200


def test_unknown_kids_cannot_make_every_request_read_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    forced: list[bool] = []
    monkeypatch.setattr(signing_key_adapter, "_last_refresh", [float("-inf")])
    monkeypatch.setattr(signing_key_adapter, "_read", lambda _arn, *, force: forced.append(force) or "k" * 64)
    keys = signing_key_adapter.SigningKeys("arn:aws:secretsmanager:us-east-1:123456789012:secret:k")
    auth = AuthService(
        keys=None,  # type: ignore[arg-type]  # never reached: every token below fails verification
        signing_key=keys.current,
        fresh_signing_key=keys.fresh,
    )
    for n in range(20):
        token = jwt.encode({"sub": "x"}, "another key" * 4, headers={"kid": f"{n:016x}"})
        assert auth.authenticate(f"Bearer {token}") is None
    assert forced.count(True) == 1, "one forced read per REFRESH_SECONDS, however many forged kids"


def test_key_ring_format_and_verification_by_kid() -> None:
    old, new = "o" * 64, "n" * 64
    ring = KeyRing(current=new, previous=old)
    assert KeyRing.parse(ring.to_secret()) == ring
    assert KeyRing.parse(old) == KeyRing(current=old), "a plain secret is a one-key ring"
    old_token, _ = issue_token(KeyRing(old), store_id="s", client_id="c", grant="implicit")
    new_token, _ = issue_token(ring, store_id="s", client_id="c", grant="implicit")
    assert verify_token(old_token, ring) is not None and verify_token(new_token, ring) is not None
    assert verify_token(old_token, KeyRing(new)) is None, "a retired key verifies nothing"
    for bad in ('{"previous": "x"}', '{"current": 5}', "{not json", ""):
        with pytest.raises(ValueError):
            KeyRing.parse(bad)


def test_client_secrets_are_stored_only_as_salted_scrypt_hashes(stack: EmbeddedStack, store: Store) -> None:
    item = stack.client("dynamodb").get_item(
        TableName=stack.refs["ApplicationKeysTable"], Key={"client_id": {"S": store.client_id}}
    )["Item"]
    stored = json.dumps(item)
    assert store.client_secret not in stored
    scheme, n, r, p, salt, digest = item["secret_hash"]["S"].split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**14, 8, 1)
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
