"""The token signing key ring in Secrets Manager: read (cached per container), rotated, retired.

The secret's value is a key ring (``product_export.auth.tokens.KeyRing``). Containers cache it for
``CACHE_SECONDS``; a token signed with a key the cache does not know yet makes the authorizer read
the secret again, at most once per ``REFRESH_SECONDS`` (so forged ``kid`` values cannot turn every
request into a Secrets Manager call).
"""

from __future__ import annotations

import secrets
import threading
import time
from functools import cache

from aws_lambda_powertools.utilities import parameters

from product_export.adapters.aws import client
from product_export.auth.tokens import KeyRing

CACHE_SECONDS = 300
REFRESH_SECONDS = 10
KEY_CHARS = 64

_refresh_lock = threading.Lock()
_last_refresh = [float("-inf")]


@cache
def _provider() -> parameters.SecretsProvider:
    return parameters.SecretsProvider(boto3_client=client("secretsmanager"))


def _read(secret_arn: str, *, force: bool) -> str:
    value = _provider().get(secret_arn, max_age=CACHE_SECONDS, force_fetch=force)
    if not isinstance(value, str) or not value:
        raise RuntimeError("the token signing secret is empty")
    return value


class SigningKeys:
    """The key ring in the secret ``secret_arn``, as the token and authorizer functions read it."""

    def __init__(self, secret_arn: str) -> None:
        self.secret_arn = secret_arn

    def current(self) -> str:
        """The signing secret (a key ring), cached for ``CACHE_SECONDS``."""
        return _read(self.secret_arn, force=False)

    def fresh(self) -> str:
        """The signing secret read again now, unless that was done in the last ``REFRESH_SECONDS``."""
        with _refresh_lock:
            now = time.monotonic()
            force = now - _last_refresh[0] >= REFRESH_SECONDS
            if force:
                _last_refresh[0] = now
        return _read(self.secret_arn, force=force)


def new_key() -> str:
    return secrets.token_urlsafe(48)[:KEY_CHARS]


def rotate_signing_key(secret_id: str) -> KeyRing:
    """Step 1 of a rotation: a new current key; the old current key stays valid as ``previous``."""
    sm = client("secretsmanager")
    ring = KeyRing.parse(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    rotated = KeyRing(current=new_key(), previous=ring.current)
    sm.put_secret_value(SecretId=secret_id, SecretString=rotated.to_secret())
    return rotated


def retire_previous_key(secret_id: str) -> KeyRing:
    """Step 2, once every token of the previous key has expired: only the current key is valid."""
    sm = client("secretsmanager")
    ring = KeyRing.parse(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    retired = KeyRing(current=ring.current)
    sm.put_secret_value(SecretId=secret_id, SecretString=retired.to_secret())
    return retired
