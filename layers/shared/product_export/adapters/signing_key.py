"""The token signing key, read from Secrets Manager and cached for a few minutes per container."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities import parameters

from product_export.adapters.aws import client
from product_export.settings import get_settings

CACHE_SECONDS = 300


@cache
def _provider() -> parameters.SecretsProvider:
    return parameters.SecretsProvider(boto3_client=client("secretsmanager"))


def signing_key() -> str:
    value = _provider().get(get_settings().token_signing_secret_arn, max_age=CACHE_SECONDS)
    if not isinstance(value, str) or not value:
        raise RuntimeError("the token signing secret is empty")
    return value
