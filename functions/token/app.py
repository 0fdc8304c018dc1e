"""POST /oauth/access_token: exchanges an application key for an access token (form-encoded)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from product_export.adapters.keys_table import KeysTable
from product_export.adapters.signing_key import SigningKeys
from product_export.api.http import JSON, body_text, create_resolver
from product_export.auth.service import AuthService
from product_export.errors import BadRequest
from product_export.settings import KeysTableSettings, TokenSigningSettings, load_settings


class Settings(KeysTableSettings, TokenSigningSettings):
    """TokenFunction's Environment (template.yaml)."""


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
app = create_resolver()
auth = AuthService(
    KeysTable(settings.application_keys_table), SigningKeys(settings.token_signing_secret_arn).current
)


@app.post("/oauth/access_token")
@tracer.capture_method(capture_response=False)  # the response is the access token
def access_token() -> Response[str]:
    event = app.current_event
    body = body_text(app) or ""
    content_type = (event.headers.get("Content-Type") or event.headers.get("content-type") or "").lower()
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):  # deep nesting is a RecursionError, not a ValueError
            raise BadRequest("The request body is not valid JSON") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str | int | float) for v in parsed.values()):
            raise BadRequest("The request body must be a JSON object of strings")
        form = {k: str(v) for k, v in parsed.items()}
    else:
        form = dict(parse_qsl(body, keep_blank_values=True))
    answer = auth.grant(form)
    logger.info("token issued", extra={"client_id": form.get("client_id"), "grant": answer.identifier})
    return Response(status_code=200, content_type=JSON, body=json.dumps(answer.model_dump(mode="json")))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
