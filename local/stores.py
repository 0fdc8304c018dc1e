"""A store with its application key and tokens, created on a running embedded stack."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from local.apigw import ApiResponse
from local.stack import EmbeddedStack
from product_export.adapters.keys_table import KeysTable
from product_export.auth.service import AuthService


@dataclass(frozen=True)
class DemoStore:
    store_id: str
    client_id: str
    client_secret: str
    admin_token: str
    shopper_token: str


def request_token(stack: EmbeddedStack, form: dict[str, str]) -> ApiResponse:
    assert stack.api is not None
    return stack.api.request(
        "POST",
        "/oauth/access_token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urllib.parse.urlencode(form),
    )


def create_store(stack: EmbeddedStack, name: str) -> DemoStore:
    """A new store and key (through the same code as tools/create_store.py) and both kinds of token."""
    keys = KeysTable(stack.refs["ApplicationKeysTable"])
    key, secret = AuthService(keys, signing_key=lambda: "").create_store(name)
    admin = request_token(
        stack, {"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": secret}
    )
    shopper = request_token(stack, {"grant_type": "implicit", "client_id": key.client_id})
    if admin.status != 200 or shopper.status != 200:
        raise RuntimeError(f"token requests failed: {admin.body} {shopper.body}")
    return DemoStore(
        key.store_id, key.client_id, secret, admin.json()["access_token"], shopper.json()["access_token"]
    )
