"""Per-store webhooks: the completion event's detail POSTed to the store's URL, signed.

A store administrator sets the URL with ``PUT /pcm/settings/webhook``; the service generates the
store's signing secret and returns it in that answer only (each PUT makes a new one). Each delivery
carries ``X-Export-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the
secret>``, ``X-Export-Event`` (the detail-type) and ``X-Export-Event-Id`` (the same for every attempt
at one event, for de-duplication). Deliveries are decoupled from the export: an EventBridge rule
invokes the delivery function, which retries with backoff, then fails so that Lambda retries the
invocation later; nothing a receiver does can change an export.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import random
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from product_export.errors import NotFound, Unprocessable

logger = Logger()

SIGNATURE_HEADER = "X-Export-Signature"
EVENT_HEADER = "X-Export-Event"
EVENT_ID_HEADER = "X-Export-Event-Id"
MAX_URL_LENGTH = 2048
# Statuses worth another attempt; any other non-2xx answer is the receiver's final word.
RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Webhook:
    store_id: str
    url: str
    secret: str
    created_at: str


class _WebhookAttributes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: StrictStr = Field(max_length=MAX_URL_LENGTH)


class _WebhookData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["webhook"]
    attributes: _WebhookAttributes


class WebhookBody(BaseModel):
    """The body of ``PUT /pcm/settings/webhook``: ``{"data":{"type":"webhook","attributes":{"url":…}}}``."""

    model_config = ConfigDict(extra="forbid")
    data: _WebhookData


class WebhookStore(Protocol):
    def get_webhook(self, store_id: str) -> Webhook | None: ...
    def put_webhook(self, webhook: Webhook) -> None: ...
    def delete_webhook(self, store_id: str) -> None: ...


class Poster(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
        """The HTTP status of the answer; OSError when there is none (refused, timeout, TLS)."""
        ...


class WebhookUndelivered(Exception):
    """Every attempt failed; the delivery function fails so that Lambda tries again later."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Export-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def validate_url(url: Any, *, allow_http: bool) -> str:
    """An absolute https URL without credentials, not to a loopback, private or link-local address."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise Unprocessable(f"url must be a URL of at most {MAX_URL_LENGTH} characters", source=_URL)
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise Unprocessable("url is not a valid URL", source=_URL) from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not host:
        raise Unprocessable(f"url must be an absolute {' or '.join(schemes)} URL", source=_URL)
    if parts.username is not None or parts.password is not None:
        raise Unprocessable("url must not contain credentials", source=_URL)
    if any(ord(char) < 33 for char in url):
        raise Unprocessable("url must not contain spaces or control characters", source=_URL)
    if not allow_http and _internal(host):
        raise Unprocessable("url must not point to a loopback, private or link-local address", source=_URL)
    return url


_URL = "/data/attributes/url"


def _internal(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


class WebhookSettings:
    """The store's webhook: set (with a new secret), read (without it), removed."""

    def __init__(self, store: WebhookStore, *, allow_http: bool) -> None:
        self.store = store
        self.allow_http = allow_http

    def configure(self, store_id: str, url: Any, *, now: str) -> Webhook:
        webhook = Webhook(
            store_id=store_id,
            url=validate_url(url, allow_http=self.allow_http),
            secret="whsec_" + secrets.token_urlsafe(32),
            created_at=now,
        )
        self.store.put_webhook(webhook)
        return webhook

    def get(self, store_id: str) -> Webhook:
        webhook = self.store.get_webhook(store_id)
        if webhook is None:
            raise NotFound("This store has no webhook")
        return webhook

    def delete(self, store_id: str) -> None:
        self.get(store_id)
        self.store.delete_webhook(store_id)


class WebhookDelivery:
    """POSTs one event's detail to its store's webhook: ``attempts`` tries, full-jitter backoff."""

    def __init__(
        self,
        store: WebhookStore,
        poster: Poster,
        *,
        allow_http: bool,
        attempts: int = 4,
        backoff_seconds: float = 1.0,
        timeout_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.poster = poster
        self.allow_http = allow_http
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.sleep = sleep
        self.clock = clock

    def deliver(self, detail_type: str, event_id: str, detail: dict[str, Any]) -> str:
        """``delivered``, ``no webhook``, or ``rejected`` (a final non-2xx answer, or a URL no longer
        allowed); raises WebhookUndelivered when every attempt failed for a reason worth retrying."""
        store_id = str(detail["store_id"])
        webhook = self.store.get_webhook(store_id)
        if webhook is None:
            return "no webhook"
        try:  # a stored URL obeys today's rules too (AllowHttpWebhooks may have been turned off)
            validate_url(webhook.url, allow_http=self.allow_http)
        except Unprocessable:
            logger.warning("webhook URL no longer allowed", extra={"store_id": store_id})
            return "rejected"
        body = json.dumps(detail, separators=(",", ":")).encode()
        context = {
            "store_id": store_id,
            "event_id": event_id,
            "host": urllib.parse.urlsplit(webhook.url).hostname,  # never the URL: it may hold a token
        }
        reason = ""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(random.uniform(0, self.backoff_seconds * 2 ** (attempt - 1)))  # noqa: S311
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "product-export-webhooks/1",
                EVENT_HEADER: detail_type,
                EVENT_ID_HEADER: event_id,
                SIGNATURE_HEADER: sign(webhook.secret, int(self.clock()), body),
            }
            try:
                status = self.poster.post(webhook.url, body, headers, timeout=self.timeout_seconds)
            except OSError as error:
                reason = f"no answer ({type(error).__name__})"
                continue
            if 200 <= status < 300:
                logger.info("webhook delivered", extra={**context, "attempts": attempt + 1})
                return "delivered"
            if status not in RETRIED_STATUSES:
                logger.warning("webhook rejected the event", extra={**context, "http_status": status})
                return "rejected"
            reason = f"HTTP {status}"
        logger.warning("webhook not reached", extra={**context, "reason": reason})
        raise WebhookUndelivered(
            f"webhook of store {store_id} not reached after {self.attempts} attempts: {reason}"
        )
