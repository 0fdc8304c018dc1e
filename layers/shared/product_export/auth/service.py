"""Issuing tokens for application keys and checking them for the authorizer."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from product_export.adapters.keys_table import ApplicationKey, KeysTable
from product_export.auth.passwords import hash_secret, verify_secret
from product_export.auth.tokens import (
    GRANTS,
    TOKEN_LIFETIME,
    Claims,
    KeyRing,
    issue_token,
    token_kid,
    verify_token,
)
from product_export.errors import BadRequest, Unauthorized
from product_export.ids import uuid4
from product_export.values import now_timestamp


class TokenAnswer(BaseModel):
    """The answer of POST /oauth/access_token, flat as EP's (no JSON:API envelope)."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the scheme's name, no secret)
    expires_in: int = Field(description=f"seconds the token is valid ({TOKEN_LIFETIME})")
    expires: int = Field(description="expiry, epoch seconds")
    identifier: Literal[GRANTS] = Field(description="the grant type")  # type: ignore[valid-type]


class AuthService:
    """``signing_key`` returns the signing secret (a key ring, see auth.tokens) as cached;
    ``fresh_signing_key`` reads it again, for a token whose key this container has not seen yet
    (signed by a token container that already read a rotated secret)."""

    def __init__(
        self,
        keys: KeysTable,
        signing_key: Callable[[], str],
        fresh_signing_key: Callable[[], str] | None = None,
    ) -> None:
        self.keys = keys
        self.signing_key = signing_key
        self.fresh_signing_key = fresh_signing_key

    def _key_ring(self, kid: str | None = None) -> KeyRing:
        ring = KeyRing.parse(self.signing_key())
        if kid is not None and ring.key_for(kid) is None and self.fresh_signing_key is not None:
            ring = KeyRing.parse(self.fresh_signing_key())
        return ring

    def grant(self, form: Mapping[str, str]) -> TokenAnswer:
        """POST /oauth/access_token: the flat token answer of the contract."""
        grant_type = form.get("grant_type", "")
        client_id = form.get("client_id", "")
        if grant_type not in ("client_credentials", "implicit"):
            raise BadRequest("grant_type must be client_credentials or implicit", source="grant_type")
        if not client_id:
            raise BadRequest("client_id is required", source="client_id")
        key = self.keys.get(client_id)
        if grant_type == "client_credentials":
            secret = form.get("client_secret", "")
            if not secret:
                raise BadRequest("client_secret is required for client_credentials", source="client_secret")
            if key is None or not verify_secret(secret, key.secret_hash):
                raise Unauthorized("Invalid client_id or client_secret")
        elif key is None:
            raise Unauthorized("Invalid client_id")
        token, expires = issue_token(
            self._key_ring(), store_id=key.store_id, client_id=key.client_id, grant=grant_type
        )
        return TokenAnswer(
            access_token=token,
            expires_in=TOKEN_LIFETIME,
            expires=expires,
            identifier=grant_type,
        )

    def authenticate(self, authorization: str) -> Claims | None:
        """Claims of a ``Bearer`` header whose application key still exists, else None."""
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        token = token.strip()
        kid = token_kid(token)
        if kid is None:
            return None
        claims = verify_token(token, self._key_ring(kid))
        if claims is None:
            return None
        key = self.keys.get(claims.client_id)
        if key is None or key.store_id != claims.store_id:
            return None  # the application key was deleted: its tokens stop working
        return claims

    def create_store(self, name: str) -> tuple[ApplicationKey, str]:
        """A new store and its application key; the plain secret is returned once and never stored."""
        secret = secrets.token_urlsafe(32)
        key = ApplicationKey(
            client_id=secrets.token_hex(16),
            secret_hash=hash_secret(secret),
            store_id=uuid4(),
            name=name,
            created_at=now_timestamp(),
        )
        self.keys.put(key)
        return key, secret
