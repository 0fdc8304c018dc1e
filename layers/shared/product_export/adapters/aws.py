"""boto3 clients, created once per process with adaptive retries (DynamoDB throttling backs off)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from product_export.settings import get_settings

_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8}, max_pool_connections=32)
# Presigned links must be SigV4 (SigV2 is deprecated and refused in newer regions).
_SERVICE_CONFIG = {"s3": _CONFIG.merge(Config(signature_version="s3v4"))}


@cache
def client(service: str) -> Any:
    """A shared client for ``service``; tests call ``client.cache_clear()`` between mocked accounts."""
    endpoint = get_settings().aws_endpoint_url
    config = _SERVICE_CONFIG.get(service, _CONFIG)
    return boto3.client(service, config=config, endpoint_url=endpoint)  # type: ignore[call-overload]
