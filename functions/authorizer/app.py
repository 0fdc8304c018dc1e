"""Lambda TOKEN authorizer: a valid bearer token gets a policy for the whole API plus its store.

API Gateway caches the decision per token and reuses it on every route, so the policy allows the
whole API and the handlers check the grant (administrator or shopper) per route.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from product_export.adapters.keys_table import KeysTable
from product_export.adapters.signing_key import signing_key
from product_export.auth.service import AuthService

logger = Logger()
tracer = Tracer()
auth = AuthService(KeysTable(), signing_key)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context: LambdaContext) -> dict[str, Any]:
    claims = auth.authenticate(event.authorization_token or "")
    if claims is None:
        logger.info("token rejected")
        raise Exception("Unauthorized")
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=claims.client_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"store_id": claims.store_id, "grant": claims.grant, "client_id": claims.client_id},
    )
    policy.allow_all_routes()
    return policy.asdict()
