"""Secret hashing and token signing."""

from __future__ import annotations

import time

import jwt

from product_export.auth.passwords import hash_secret, verify_secret
from product_export.auth.tokens import issue_token, verify_token

KEY = "k" * 64


def test_secret_hash_is_salted_and_verifies() -> None:
    first, second = hash_secret("s3cret"), hash_secret("s3cret")
    assert first != second and first.startswith("scrypt$")
    assert "s3cret" not in first
    assert verify_secret("s3cret", first) and verify_secret("s3cret", second)
    assert not verify_secret("s3cret!", first)
    assert not verify_secret("s3cret", "garbage")
    assert not verify_secret("s3cret", "bcrypt$1$2$3$4$5")


def test_token_round_trip_and_rejections() -> None:
    token, expires = issue_token(KEY, store_id="st", client_id="cl", grant="implicit")
    claims = verify_token(token, KEY)
    assert claims is not None and (claims.store_id, claims.client_id, claims.grant) == (
        "st",
        "cl",
        "implicit",
    )
    assert abs(expires - time.time() - 3600) < 5
    assert verify_token(token, "another-key" * 4) is None
    assert verify_token(token[:-2] + "xx", KEY) is None
    old, _ = issue_token(KEY, store_id="st", client_id="cl", grant="implicit", now=int(time.time()) - 4000)
    assert verify_token(old, KEY) is None
    future, _ = issue_token(KEY, store_id="st", client_id="cl", grant="implicit", now=int(time.time()) + 600)
    assert verify_token(future, KEY) is None, "not yet valid"
    foreign = jwt.encode(
        {
            "iss": "elsewhere",
            "aud": "pcm",
            "sub": "cl",
            "store": "st",
            "grant": "implicit",
            "iat": int(time.time()),
            "nbf": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        KEY,
    )
    assert verify_token(foreign, KEY) is None
    odd_grant = jwt.encode(
        {
            "iss": "product-export",
            "aud": "pcm",
            "sub": "cl",
            "store": "st",
            "grant": "root",
            "iat": int(time.time()),
            "nbf": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        KEY,
    )
    assert verify_token(odd_grant, KEY) is None
