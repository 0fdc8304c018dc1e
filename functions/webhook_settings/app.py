"""/pcm/settings/webhook: the store's completion webhook. Administrator tokens only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from product_export.adapters.webhooks import WebhooksTable
from product_export.api.documents import WebhookAnswer, answer, webhook_resource
from product_export.api.http import admin_of, create_resolver, json_body
from product_export.notifications.webhooks import WebhookBody, WebhookSettings
from product_export.settings import JobsTableSettings, WebhookPolicySettings, load_settings
from product_export.values import now_timestamp


class Settings(JobsTableSettings, WebhookPolicySettings):
    """WebhookSettingsFunction's Environment (template.yaml): the webhooks are in the jobs table."""


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
app = create_resolver()
webhooks = WebhookSettings(WebhooksTable(settings.jobs_table), allow_http=settings.allow_http_webhooks)
PATH = "/pcm/settings/webhook"


@app.put(PATH)
@tracer.capture_method
def put_webhook() -> Response[str]:
    caller = admin_of(app)
    body = WebhookBody.model_validate(json_body(app))
    webhook = webhooks.configure(caller.store_id, body.data.attributes.url, now=now_timestamp())
    logger.info("webhook set")  # neither the URL (it may hold a token) nor the secret
    return answer(WebhookAnswer(data=webhook_resource(webhook, with_secret=True)))


@app.get(PATH)
@tracer.capture_method
def get_webhook() -> Response[str]:
    caller = admin_of(app)
    return answer(WebhookAnswer(data=webhook_resource(webhooks.get(caller.store_id), with_secret=False)))


@app.delete(PATH)
@tracer.capture_method
def delete_webhook() -> Response[str]:
    caller = admin_of(app)
    webhooks.delete(caller.store_id)
    logger.info("webhook removed")
    return Response(status_code=204, body="")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
