"""GET /pcm/openapi.json: the API's OpenAPI document (public, no token)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from product_export.api.http import JSON, create_resolver
from product_export.api.openapi import OPENAPI_PATH, openapi_json

logger = Logger()
tracer = Tracer()
app = create_resolver()
DOCUMENT = openapi_json()  # built once per container: it depends only on the code


@app.get(OPENAPI_PATH)
@tracer.capture_method
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type=JSON, body=DOCUMENT)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
