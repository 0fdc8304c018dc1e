"""Completion events on moto and webhooks to a local HTTP receiver.

Events are captured as EventBridge would hand them to the webhook delivery function: a rule with
that function's own pattern (read from template.yaml) on the bus the stack publishes to, whose
target is an SQS queue (moto's EventBridge cannot invoke Lambda). The captured events are then
given to the real delivery handler, which posts them to an http.server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.stack import EmbeddedStack
from local.stores import DemoStore as Store
from product_export.notifications.webhooks import WebhookUndelivered
from tests.support import ApiClient, Gate, load_event, product

FINAL_TYPES = {"Export Job Succeeded", "Export Job Failed", "Export Job Cancelled"}


class CapturedEvents:
    def __init__(self, stack: EmbeddedStack) -> None:
        rule = stack.template.function("WebhookDeliveryFunction").properties["Events"]["ExportCompleted"]
        pattern = rule["Properties"]["Pattern"]
        self.bus = str(stack.resolve(rule["Properties"]["EventBusName"]))
        self.sqs = stack.client("sqs")
        self.queue_url = self.sqs.create_queue(QueueName="captured-events")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        events = stack.client("events")
        events.put_rule(Name="capture", EventBusName=self.bus, EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule="capture",
            EventBusName=self.bus,
            Targets=[{"Id": "queue", "Arn": queue_arn["Attributes"]["QueueArn"]}],
        )
        self.seen: list[dict[str, Any]] = []

    def all(self) -> list[dict[str, Any]]:
        """Every event captured so far (the queue is drained into ``seen``)."""
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                return self.seen
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def of(self, job_id: str) -> list[dict[str, Any]]:
        return [event for event in self.all() if event["detail"]["data"]["id"] == job_id]


@pytest.fixture
def captured(stack: EmbeddedStack) -> CapturedEvents:
    return CapturedEvents(stack)


def without_links(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_links(inner) for key, inner in value.items()}
    if isinstance(value, list):
        links = value and all(isinstance(inner, str) and inner.startswith("http") for inner in value)
        return None if links else [without_links(inner) for inner in value]
    return None if isinstance(value, str) and value.startswith("http") else value


def settle(admin: ApiClient, job_id: str) -> dict[str, Any]:
    job = admin.wait_for_job(job_id)
    time.sleep(0.3)  # let the workflow's last step finish after the job reads final
    return job


def test_a_successful_export_publishes_one_event_with_the_job_document(
    stack: EmbeddedStack, store: Store, admin: ApiClient, captured: CapturedEvents
) -> None:
    for n in range(1, 4):
        admin.create_product(product(n))
    job = settle(admin, admin.export()["id"])
    assert job["attributes"]["status"] == "success"
    (event,) = captured.of(job["id"])
    assert event["source"] == "product-export"
    assert event["detail-type"] == "Export Job Succeeded"
    assert job["meta"]["file_locations"]
    # The job as GET shows it, each signed link (file_locations, ...) null: GET the job for them.
    assert event["detail"] == {"store_id": store.store_id, "data": without_links(job)}
    assert "X-Amz-Signature" not in json.dumps(event) and "http" not in json.dumps(event["detail"])


@pytest.mark.stack_parameters(PartSize=2)
def test_failed_cancelled_and_reconciled_jobs_publish_once_each(
    stack: EmbeddedStack, store: Store, admin: ApiClient, captured: CapturedEvents
) -> None:
    for n in range(1, 4):
        admin.create_product(product(n))

    def explode(event: Any, context: Any, call_real: Any) -> Any:
        raise RuntimeError("disk on fire")

    stack.dispatcher.intercept("WritePartFunction", explode)
    failed = settle(admin, admin.export()["id"])
    (event,) = captured.of(failed["id"])
    assert event["detail-type"] == "Export Job Failed"
    assert event["detail"]["data"]["attributes"]["status"] == "failed"
    stack.dispatcher.clear_intercepts()

    planning = Gate(stack, "PlanExportFunction")
    cancelled = admin.export()
    assert planning.entered.wait(30)
    for _ in range(2):  # cancelling twice is one final transition, so one event
        assert admin.post(f"/pcm/jobs/{cancelled['id']}/cancel").status == 200
    planning.release.set()
    settle(admin, cancelled["id"])
    time.sleep(0.5)  # the workflow stops at its next step without a second final transition
    (event,) = captured.of(cancelled["id"])
    assert event["detail-type"] == "Export Job Cancelled"
    assert event["detail"]["data"]["attributes"]["status"] == "cancelled"
    stack.dispatcher.clear_intercepts()

    writing = Gate(stack, "WritePartFunction")
    stuck = admin.export()
    assert writing.entered.wait(30)
    timed_out = load_event("reconcile_exports-execution-timed-out.json")
    timed_out["detail"]["input"] = json.dumps({"store_id": store.store_id, "job_id": stuck["id"]})
    stack.dispatcher.invoke("ReconcileExportsFunction", timed_out)
    writing.release.set()
    settle(admin, stuck["id"])
    time.sleep(0.5)  # the parts finish; the last step finds the job final and publishes nothing
    (event,) = captured.of(stuck["id"])
    assert event["detail-type"] == "Export Job Failed"
    assert len(captured.all()) == 3


@pytest.mark.stack_parameters(EventBusName="exports")
def test_events_go_to_the_bus_the_parameter_names(stack: EmbeddedStack, admin: ApiClient) -> None:
    events = stack.client("events")
    events.create_event_bus(Name="exports")
    on_named_bus = CapturedEvents(stack)
    assert on_named_bus.bus == "exports"
    events.put_rule(Name="default-bus", EventPattern=json.dumps({"source": ["product-export"]}))
    sqs = stack.client("sqs")
    default_queue = sqs.create_queue(QueueName="default-bus")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=default_queue, AttributeNames=["QueueArn"])["Attributes"]
    events.put_targets(Rule="default-bus", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    job = settle(admin, admin.export()["id"])
    assert [event["detail-type"] for event in on_named_bus.of(job["id"])] == ["Export Job Succeeded"]
    assert sqs.receive_message(QueueUrl=default_queue).get("Messages", []) == []


@pytest.mark.stack_parameters(EventBusName="no-such-bus")
def test_an_event_that_cannot_be_published_never_fails_the_export(
    stack: EmbeddedStack, admin: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    admin.create_product(product(1))
    job = settle(admin, admin.export()["id"])
    assert job["attributes"]["status"] == "success"
    assert len(job["meta"]["file_locations"]) == 1
    unpublished = [r for r in caplog.records if r.getMessage() == "completion event not published"]
    assert [(r.levelname, r.job_id, r.reason) for r in unpublished] == [  # type: ignore[attr-defined]
        ("ERROR", job["id"], "ResourceNotFoundException")
    ]


# --- webhooks ------------------------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers the next planned status."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers.items()), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/export?token=abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does with X-Export-Signature (as the README documents it)."""
    fields = dict(part.split("=", 1) for part in headers["X-Export-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected, fields["v1"])


def set_webhook(admin: ApiClient, url: str) -> Any:
    return admin.put(
        "/pcm/settings/webhook", json_body={"data": {"type": "webhook", "attributes": {"url": url}}}
    )


@pytest.mark.stack_parameters(AllowHttpWebhooks="true")
def test_the_store_webhook_receives_the_event_signed_with_its_secret(
    stack: EmbeddedStack, store: Store, admin: ApiClient, captured: CapturedEvents, receiver: Receiver
) -> None:
    answer = set_webhook(admin, receiver.url)
    assert answer.status == 200, answer.body
    secret = answer.json()["data"]["attributes"]["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    shown = admin.get("/pcm/settings/webhook").json()["data"]
    assert shown["attributes"]["url"] == receiver.url and "secret" not in shown["attributes"]

    admin.create_product(product(1))
    job = settle(admin, admin.export()["id"])
    (event,) = captured.of(job["id"])
    receiver.statuses = [503, 200]  # the first attempt fails, the second is accepted
    result = stack.dispatcher.invoke("WebhookDeliveryFunction", event)
    assert result == {"job_id": job["id"], "outcome": "delivered"}
    assert len(receiver.requests) == 2
    for headers, body in receiver.requests:
        assert json.loads(body) == event["detail"]
        assert headers["X-Export-Event"] == "Export Job Succeeded"
        assert headers["X-Export-Event-Id"] == event["id"]
        assert headers["Content-Type"] == "application/json"
        assert verify(secret, headers, body)
        assert not verify("whsec_another", headers, body)
        assert not verify(secret, headers, body.replace(b"success", b"failure"))

    # A new PUT makes a new secret: deliveries are signed with it, not with the old one.
    renewed = set_webhook(admin, receiver.url).json()["data"]["attributes"]["secret"]
    assert renewed != secret
    receiver.requests.clear()
    stack.dispatcher.invoke("WebhookDeliveryFunction", event)
    (headers, body), *_ = receiver.requests
    assert verify(renewed, headers, body) and not verify(secret, headers, body)


@pytest.mark.stack_parameters(AllowHttpWebhooks="true")
def test_a_refusing_or_absent_receiver_never_touches_the_export(
    stack: EmbeddedStack,
    store: Store,
    admin: ApiClient,
    captured: CapturedEvents,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert set_webhook(admin, receiver.url).status == 200
    job = settle(admin, admin.export()["id"])
    (event,) = captured.of(job["id"])
    receiver.statuses = [410]  # a final answer: not retried
    assert stack.dispatcher.invoke("WebhookDeliveryFunction", event)["outcome"] == "rejected"
    assert len(receiver.requests) == 1

    receiver.close()  # nothing listens any more: every attempt fails, then the function fails
    stack.dispatcher.handler("WebhookDeliveryFunction")  # imported as fn_<logical id>
    delivery = sys.modules["fn_WebhookDeliveryFunction"].delivery
    monkeypatch.setattr(delivery, "backoff_seconds", 0.01)  # the waits themselves: unit tests
    with pytest.raises(WebhookUndelivered, match="4 attempts"):
        stack.dispatcher.invoke("WebhookDeliveryFunction", event)
    assert admin.get(f"/pcm/jobs/{job['id']}").json()["data"]["attributes"]["status"] == "success"

    assert admin.delete("/pcm/settings/webhook").status == 204
    assert admin.get("/pcm/settings/webhook").status == 404
    assert stack.dispatcher.invoke("WebhookDeliveryFunction", event)["outcome"] == "no webhook"


REFUSED_URLS = (
    "http://hooks.example.com/x",  # plain http outside local testing
    "ftp://hooks.example.com/x",
    "https://user:pass@hooks.example.com/x",
    "https://127.0.0.1/x",
    "https://10.0.0.8/x",
    "https://169.254.169.254/latest",
    "https://[::1]/x",
    "https://localhost/x",
    "https:///x",
    "https://hooks.example.com:99999/x",
    "https://hooks.example.com/a b",
    "hooks.example.com",
    "",
)


def test_webhook_settings_refuse_bad_urls_bodies_and_shoppers(
    stack: EmbeddedStack, admin: ApiClient, shopper: ApiClient
) -> None:
    for url in REFUSED_URLS:
        response = set_webhook(admin, url)
        assert response.status == 422, (url, response.body)
        assert response.json()["errors"][0]["source"] == {"pointer": "/data/attributes/url"}
    assert admin.get("/pcm/settings/webhook").status == 404, "nothing stored"
    ok = {"data": {"type": "webhook", "attributes": {"url": "https://hooks.example.com/x"}}}
    assert admin.put("/pcm/settings/webhook").status == 400
    assert (
        admin.put("/pcm/settings/webhook", json_body={"data": {"type": "job", "attributes": {}}}).status
        == 422
    )
    extra = {"data": {"type": "webhook", "attributes": {"url": "https://a.example", "secret": "mine"}}}
    assert admin.put("/pcm/settings/webhook", json_body=extra).status == 422, "the secret is not chosen"
    assert admin.delete("/pcm/settings/webhook").status == 404
    for method in ("get", "put", "delete"):
        assert getattr(shopper, method)("/pcm/settings/webhook", json_body=ok).status == 403
    assert admin.put("/pcm/settings/webhook", json_body=ok).status == 200

    # The sample event (events/) belongs to a store without a webhook: nothing is posted.
    sample = load_event("webhook_delivery-export-succeeded.json")
    result = stack.dispatcher.invoke("WebhookDeliveryFunction", sample)
    assert result == {"job_id": sample["detail"]["data"]["id"], "outcome": "no webhook"}
