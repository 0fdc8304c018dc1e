"""What API Gateway answers by itself (no route, no token, a refused policy, throttling, a body too
large...) comes from template.yaml's GatewayResponses: a JSON:API error whose status is the one on
the wire, for every response type the gateway can produce, rendered as the local gateway does."""

from __future__ import annotations

import json

from local.apigw import _GATEWAY_DEFAULTS, _Rejected
from local.stack import EmbeddedStack


def test_every_gateway_response_says_its_own_status(stack: EmbeddedStack) -> None:
    assert stack.api is not None
    for kind in _GATEWAY_DEFAULTS:
        answer = stack.api._gateway_response(_Rejected(kind, "refused"), "request-1")
        [error] = json.loads(answer.body)["errors"]
        assert error["status"] == str(answer.status), (kind, answer.body)
        assert 400 <= answer.status < 600 and answer.headers["Content-Type"] == "application/json"
