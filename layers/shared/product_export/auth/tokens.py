"""Access tokens: HS256 JWTs signed with the key the template provisions in Secrets Manager.

The secret holds a key ring, ``{"current": "<key>", "previous": "<key>"}``: tokens are signed with
the current key and carry its ``kid`` (a hash of the key, never the key), and verification accepts
a token of either key. Rotation therefore never invalidates a token that is still in use (see
docs/security.md). A secret that is a plain string is a ring with that one key.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import jwt

ISSUER = "product-export"
AUDIENCE = "pcm"
TOKEN_LIFETIME = 3600
GRANTS = ("client_credentials", "implicit")
ALGORITHM = "HS256"
CURRENT, PREVIOUS = "current", "previous"


def key_id(key: str) -> str:
    """The ``kid`` naming a key in token headers: a truncated hash that reveals nothing of the key."""
    return hashlib.sha256(b"product-export kid\x00" + key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRing:
    """The signing keys: ``current`` signs, ``current`` and ``previous`` verify."""

    current: str
    previous: str | None = None

    def __post_init__(self) -> None:
        if not self.current:
            raise ValueError("the token signing key is empty")

    @classmethod
    def parse(cls, secret: str) -> KeyRing:
        """The ring stored in the secret: JSON ``{"current", "previous"?}``, or one plain key."""
        text = secret.strip()
        if not text.startswith("{"):
            return cls(text)
        try:
            document = json.loads(text)
        except ValueError:
            raise ValueError("the token signing secret is not valid JSON") from None
        current, previous = document.get(CURRENT), document.get(PREVIOUS)
        if not isinstance(current, str) or not (previous is None or isinstance(previous, str)):
            raise ValueError('the token signing secret must be {"current": "<key>", "previous": "<key>"}')
        return cls(current, previous or None)

    def to_secret(self) -> str:
        document = {CURRENT: self.current}
        if self.previous:
            document[PREVIOUS] = self.previous
        return json.dumps(document)

    @property
    def current_kid(self) -> str:
        return key_id(self.current)

    def key_for(self, kid: str) -> str | None:
        for key in (self.current, self.previous):
            if key and key_id(key) == kid:
                return key
        return None


def _ring(keys: KeyRing | str) -> KeyRing:
    return keys if isinstance(keys, KeyRing) else KeyRing.parse(keys)


@dataclass(frozen=True)
class Claims:
    store_id: str
    client_id: str
    grant: str
    expires: int


def issue_token(
    keys: KeyRing | str, *, store_id: str, client_id: str, grant: str, now: int | None = None
) -> tuple[str, int]:
    """A token signed with the current key, and its expiry (epoch seconds)."""
    ring = _ring(keys)
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
    token = jwt.encode(claims, ring.current, algorithm=ALGORITHM, headers={"kid": ring.current_kid})
    return token, expires


def token_kid(token: str) -> str | None:
    """The ``kid`` in a token's (unverified) header, or None when there is none or it is malformed."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) else None


def verify_token(token: str, keys: KeyRing | str) -> Claims | None:
    """The token's claims, or None for anything forged, expired, malformed, of another issuer or of
    a key that is not in the ring. Only HS256 is accepted (no ``none``, no algorithm confusion)."""
    kid = token_kid(token)
    key = _ring(keys).key_for(kid) if kid else None
    if key is None:
        return None
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "nbf", "sub", "store", "grant", "iss", "aud"]},
        )
    except jwt.PyJWTError:
        return None
    if claims["grant"] not in GRANTS or not isinstance(claims["store"], str) or not claims["store"]:
        return None
    return Claims(
        store_id=claims["store"], client_id=claims["sub"], grant=claims["grant"], expires=claims["exp"]
    )
