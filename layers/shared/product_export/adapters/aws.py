"""boto3 clients, created once per process with adaptive retries (DynamoDB throttling backs off)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

import boto3
import msgspec
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from product_export.errors import TransientError

_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8}, max_pool_connections=32)
_SERVICE_CONFIG = {
    # Presigned links must be SigV4 (SigV2 is deprecated and refused in newer regions).
    "s3": _CONFIG.merge(Config(signature_version="s3v4")),
    # DynamoDB validates every request itself; botocore's client-side pass over each attribute of
    # each item costs more than the request (a third of a bulk load's time).
    "dynamodb": _CONFIG.merge(Config(parameter_validation=False)),
}
RAW_BODY = "RawBody"
DECODED_PAGE = "DecodedPage"
# boto3's default session is not safe to build clients from on several threads at once (a shard
# group's planner reads its shards on threads); clients, once built, are.
_building = threading.Lock()


@cache
def client(service: str) -> Any:
    """A shared client for ``service``; tests call ``client.cache_clear()`` between mocked accounts.

    boto3 reads an endpoint override (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_DYNAMODB``) itself."""
    config = _SERVICE_CONFIG.get(service, _CONFIG)
    with _building:
        return boto3.client(service, config=config)  # type: ignore[call-overload]


@cache
def raw_items_dynamodb() -> Any:
    """A DynamoDB client whose Query answers carry the page's raw body, items unparsed.

    botocore walks its service model for every attribute of every item it parses, which caps a
    reader at a few thousand items a second. This client keeps signing, retries, CRC32 checks and
    errors as they are, but hands a successful Query body on untouched under ``RawBody`` (for
    ``dynamo_json.decode_page``), or within ``decoding_pages`` the page a page reader decoded from
    it under ``DecodedPage``, and lets botocore parse only the page's other members
    (``LastEvaluatedKey``, ``Count``, ``ScannedCount``, ...).
    """
    with _building:
        dynamodb = boto3.client("dynamodb", config=_SERVICE_CONFIG["dynamodb"])  # type: ignore[call-overload]
    dynamodb.meta.events.register("before-parse.dynamodb.Query", _set_body_aside)
    return dynamodb


class QueryPageRest(msgspec.Struct, omit_defaults=True):
    """A Query page without its items: what botocore parses. A page reader's page type extends it
    with its ``Items`` (see ``decoding_pages``)."""

    Count: int | None = None
    ScannedCount: int | None = None
    LastEvaluatedKey: msgspec.Raw = msgspec.Raw()  # kept as the bytes they are, for botocore
    ConsumedCapacity: msgspec.Raw = msgspec.Raw()


_query_page_rest = msgspec.json.Decoder(QueryPageRest)
_page_decoder: ContextVar[Callable[[bytes], QueryPageRest] | None] = ContextVar("page_decoder", default=None)


@contextmanager
def decoding_pages(decode: Callable[[bytes], QueryPageRest]) -> Iterator[None]:
    """Within this block (this thread's Query calls), a successful Query body is decoded once, by
    ``decode``, into a page that carries its items and the rest; the answer holds it under
    ``DECODED_PAGE`` (instead of the body under ``RAW_BODY``). One pass over the ~1 MB body
    instead of two: scanning past the items for botocore costs about as much as reading them."""
    token = _page_decoder.set(decode)
    try:
        yield
    finally:
        _page_decoder.reset(token)


def _set_body_aside(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    body = response_dict.get("body")
    if response_dict.get("status_code", 500) >= 300 or not body:
        return
    decode = _page_decoder.get()
    if decode is None:
        customized_response_dict[RAW_BODY] = body
        rest = _query_page_rest.decode(body)
    else:
        page = customized_response_dict[DECODED_PAGE] = decode(body)
        rest = QueryPageRest(page.Count, page.ScannedCount, page.LastEvaluatedKey, page.ConsumedCapacity)
    response_dict["body"] = msgspec.json.encode(rest)


# Error codes AWS answers when the request may well succeed if repeated a little later.
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "TransactionInProgressException",
    }
)


@contextmanager
def transient_errors() -> Iterator[None]:
    """Re-raise throttling, service and connection errors as TransientError.

    botocore already retries them with backoff inside one call; one that still fails leaves the
    step, and the state machine retries exactly this error name (with backoff, then gives up).
    """
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in TRANSIENT_CODES:
            raise TransientError(f"AWS was busy: {error}") from error
        raise
    except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectTimeoutError) as error:
        raise TransientError(f"AWS could not be reached: {error}") from error
