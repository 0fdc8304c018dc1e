"""Completion events and webhooks without AWS: the event detail, URL rules, signing, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest

from product_export.errors import Unprocessable
from product_export.jobs.models import Job, PartFile
from product_export.notifications.events import (
    DETAIL_TYPES,
    MAX_DETAIL_BYTES,
    completion_detail,
    detail_type,
)
from product_export.notifications.webhooks import (
    Webhook,
    WebhookDelivery,
    WebhookUndelivered,
    sign,
    validate_url,
)

NOW = "2026-11-28T10:00:00.000Z"


def job(status: str = "success", parts: int = 2) -> Job:
    files = [PartFile(number=n, key=f"s/j/part_{n}.csv", rows=10, bytes=100) for n in range(1, parts + 1)]
    return Job(
        id="j",
        store_id="s",
        status=status,  # type: ignore[arg-type]
        created_at=NOW,
        updated_at=NOW,
        files=files if status == "success" else [],
        products=10 * parts if status == "success" else None,
    )


def test_every_final_status_has_a_detail_type() -> None:
    assert {status: detail_type(status) for status in ("success", "failed", "cancelled")} == DETAIL_TYPES
    with pytest.raises(KeyError):
        detail_type("started")


def test_the_detail_is_the_job_document_without_links() -> None:
    detail = completion_detail(job(), retention_days=7)
    assert detail["store_id"] == "s"
    data = detail["data"]
    assert (data["type"], data["id"], data["attributes"]["status"]) == ("pim-job", "j", "success")
    assert data["meta"]["file_locations"] is None
    assert [(part["rows"], part["bytes"]) for part in data["meta"]["parts"]] == [(10, 100)] * 2
    assert data["meta"]["files_expire_at"] == "2026-12-05T10:00:00.000Z"
    assert "part_1.csv" not in json.dumps(detail) and "\x00" not in json.dumps(detail)
    failed = completion_detail(job("failed"), retention_days=7)["data"]
    assert failed["meta"]["file_locations"] is None and failed["meta"]["parts"] is None


def test_a_detail_too_big_for_eventbridge_drops_its_part_lists() -> None:
    detail = completion_detail(job(parts=10_000), retention_days=7)
    assert len(json.dumps(detail, separators=(",", ":"))) < MAX_DETAIL_BYTES
    meta = detail["data"]["meta"]
    assert meta["truncated"] is True and meta["parts"] is None and meta["products"] == 100_000


def test_webhook_urls() -> None:
    assert validate_url("https://hooks.example.com/a?token=x", allow_http=False)
    assert validate_url("https://93.184.216.34:8443/a", allow_http=False)
    for url in (
        "http://hooks.example.com/",
        "https://192.168.1.1/",
        "https://[fe80::1]/",
        "https://a.localhost/",
    ):
        with pytest.raises(Unprocessable):
            validate_url(url, allow_http=False)
    assert validate_url("http://127.0.0.1:8080/x", allow_http=True), "local testing only"
    for value in (None, 42, "x" * 3000, "https://", "mailto:a@b.c"):
        with pytest.raises(Unprocessable):
            validate_url(value, allow_http=True)


def test_the_signature_is_hmac_sha256_of_time_dot_body() -> None:
    header = sign("whsec_k", 1700000000, b'{"a":1}')
    match = re.fullmatch(r"t=1700000000,v1=([0-9a-f]{64})", header)
    assert match
    expected = hmac.new(b"whsec_k", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert match.group(1) == expected
    assert sign("whsec_k", 1700000001, b'{"a":1}') != header


class Hooks:
    def __init__(self, url: str | None = "https://hooks.example.com/x") -> None:
        self.webhook = Webhook("s", url, "whsec_k", NOW) if url else None

    def get_webhook(self, store_id: str) -> Webhook | None:
        return self.webhook if store_id == "s" else None

    def put_webhook(self, webhook: Webhook) -> None:
        self.webhook = webhook

    def delete_webhook(self, store_id: str) -> None:
        self.webhook = None


class Poster:
    def __init__(self, *answers: int | OSError) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
        self.sent.append((url, body, headers))
        answer = self.answers.pop(0)
        if isinstance(answer, OSError):
            raise answer
        return answer


def delivery(
    poster: Poster, hooks: Hooks | None = None, **options: object
) -> tuple[WebhookDelivery, list[float]]:
    waits: list[float] = []
    clock = iter(range(1700000000, 1700000100))
    service = WebhookDelivery(
        hooks or Hooks(),
        poster,
        allow_http=False,
        sleep=waits.append,
        clock=lambda: next(clock),
        **options,  # type: ignore[arg-type]
    )
    return service, waits


DETAIL = {"store_id": "s", "data": {"id": "j"}}


def test_retries_back_off_and_each_attempt_is_signed_afresh() -> None:
    poster = Poster(ConnectionRefusedError(), 503, 200)
    service, waits = delivery(poster, backoff_seconds=1.0)
    assert service.deliver("Export Job Succeeded", "evt-1", DETAIL) == "delivered"
    assert len(poster.sent) == 3 and len(waits) == 2
    assert 0 <= waits[0] <= 1.0 and 0 <= waits[1] <= 2.0
    body = poster.sent[0][1]
    assert json.loads(body) == DETAIL
    signatures = [headers["X-Export-Signature"] for _, _, headers in poster.sent]
    assert signatures == [sign("whsec_k", 1700000000 + n, body) for n in range(3)]
    assert {headers["X-Export-Event-Id"] for _, _, headers in poster.sent} == {"evt-1"}


def test_every_attempt_failing_raises_for_a_later_retry() -> None:
    poster = Poster(500, 502, TimeoutError(), 429)
    service, waits = delivery(poster, attempts=4, backoff_seconds=2.0)
    with pytest.raises(WebhookUndelivered, match="4 attempts: HTTP 429"):
        service.deliver("Export Job Failed", "evt-2", DETAIL)
    assert [w <= 2.0 * 2**n for n, w in enumerate(waits)] == [True] * 3


def test_final_answers_and_missing_webhooks_are_not_retried() -> None:
    poster = Poster(404)
    service, waits = delivery(poster)
    assert service.deliver("Export Job Failed", "evt-3", DETAIL) == "rejected"
    assert len(poster.sent) == 1 and waits == []
    nobody, _ = delivery(Poster(), Hooks(url=None))
    assert nobody.deliver("Export Job Failed", "evt-4", DETAIL) == "no webhook"
    # A URL stored while plain http was allowed is not used once it no longer is.
    stale, _ = delivery(Poster(), Hooks(url="http://hooks.example.com/x"))
    assert stale.deliver("Export Job Failed", "evt-5", DETAIL) == "rejected"
