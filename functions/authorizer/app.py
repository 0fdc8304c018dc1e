"""Lambda TOKEN authorizer: a valid bearer token gets a policy and its store in the context.

API Gateway caches the decision per token (the Authorization header is the whole cache key) and
reuses it on every route that token calls, so the policy is what the token may do anywhere, never
what this one request needs: an administrator (client_credentials) token may call the whole API, a
shopper (implicit) token only the product reads. The store in the context comes from the token's
own signed claims, so a cached decision can never be replayed for another token or store. The
handlers still check the grant per route (defence in depth).
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
from product_export.adapters.signing_key import SigningKeys
from product_export.auth.service import AuthService
from product_export.settings import KeysTableSettings, TokenSigningSettings, load_settings


class Settings(KeysTableSettings, TokenSigningSettings):
    """AuthorizerFunction's Environment (template.yaml)."""


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
keys = SigningKeys(settings.token_signing_secret_arn)
auth = AuthService(KeysTable(settings.application_keys_table), keys.current, keys.fresh)
# What a shopper (implicit) token may call: reading products (the handler shows live ones only).
SHOPPER_ROUTES = (("GET", "/pcm/products"), ("GET", "/pcm/products/*"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context: LambdaContext) -> dict[str, Any]:
    claims = auth.authenticate(event.authorization_token or "")
    if claims is None:
        logger.info("token rejected")
        raise Exception("Unauthorized")  # the exact message API Gateway maps to a 401
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=claims.client_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        partition=arn.partition,
        context={"store_id": claims.store_id, "grant": claims.grant, "client_id": claims.client_id},
    )
    if claims.grant == "client_credentials":
        policy.allow_all_routes()
    else:
        for method, path in SHOPPER_ROUTES:
            policy.allow_route(method, path)
    return policy.asdict()
