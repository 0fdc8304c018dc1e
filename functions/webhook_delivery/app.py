"""EventBridge rule target: posts an export completion event to its store's webhook, signed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from product_export.adapters.webhooks import HttpPoster, WebhooksTable
from product_export.notifications.webhooks import WebhookDelivery, WebhookUndelivered
from product_export.settings import JobsTableSettings, WebhookPolicySettings, load_settings


class Settings(JobsTableSettings, WebhookPolicySettings):
    """WebhookDeliveryFunction's Environment (template.yaml): the webhooks are in the jobs table."""


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
metrics = Metrics()
delivery = WebhookDelivery(
    WebhooksTable(settings.jobs_table), HttpPoster(), allow_http=settings.allow_http_webhooks
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    job_id = str(event.detail["data"]["id"])
    logger.set_correlation_id(job_id)
    try:
        outcome = delivery.deliver(event.detail_type, event.get_id, event.detail)
    except WebhookUndelivered:
        metrics.add_metric(name="WebhooksUndelivered", unit=MetricUnit.Count, value=1)
        raise  # Lambda retries the event later (EventInvokeConfig in template.yaml)
    if outcome != "no webhook":
        metrics.add_metric(name=f"Webhooks{outcome.capitalize()}", unit=MetricUnit.Count, value=1)
    return {"job_id": job_id, "outcome": outcome}
