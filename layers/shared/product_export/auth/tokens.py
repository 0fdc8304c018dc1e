"""Access tokens: HS256 JWTs signed with the key the template provisions in Secrets Manager."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ISSUER = "product-export"
AUDIENCE = "pcm"
TOKEN_LIFETIME = 3600
GRANTS = ("client_credentials", "implicit")


@dataclass(frozen=True)
class Claims:
    store_id: str
    client_id: str
    grant: str
    expires: int


def issue_token(
    signing_key: str, *, store_id: str, client_id: str, grant: str, now: int | None = None
) -> tuple[str, int]:
    """A token and its expiry (epoch seconds)."""
    issued = int(time.time()) if now is None else now
    expires = issued + TOKEN_LIFETIME
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": client_id,
        "store": store_id,
        "grant": grant,
        "iat": issued,
        "nbf": issued,
        "exp": expires,
    }
    return jwt.encode(claims, signing_key, algorithm="HS256"), expires


def verify_token(token: str, signing_key: str) -> Claims | None:
    """The token's claims, or None for anything forged, expired, malformed or of another issuer."""
    try:
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "nbf", "sub", "store", "grant"]},
        )
    except jwt.PyJWTError:
        return None
    if claims["grant"] not in GRANTS:
        return None
    return Claims(
        store_id=claims["store"], client_id=claims["sub"], grant=claims["grant"], expires=claims["exp"]
    )
