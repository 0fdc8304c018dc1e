"""No token, secret or product body in any log line, through a whole session of the service.

The stack runs with LogLevel=DEBUG (the most the template allows), and every record of the
service's loggers and Powertools' is kept at DEBUG; other libraries at INFO, the level their
loggers have in Lambda (botocore logs request bodies only at DEBUG, which Lambda does not enable).
Each record is checked whole: the message, its arguments, the extra keys and any traceback.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import pytest

from local.stack import EmbeddedStack
from local.stores import create_store
from tests.support import ApiClient

MARKERS = {
    "name": "Nm-7f3a9c-secret-name",
    "description": "Ds-1b2c3d-secret-description",
    "sku": "Sku-9e8d7c",
    "cost": "Cost-4a5b6c-supplier-price",
    "fit": "Fit-0d9e8f-shopper-attribute",
}
SERVICE_LOGGERS = ("product-export", "aws_lambda_powertools")


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), json.dumps(record.__dict__, default=str)]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
    return "\n".join(parts)


def leaks(records: list[logging.LogRecord], secrets: dict[str, str]) -> list[str]:
    found = []
    for record in records:
        text = _record_text(record)
        found += [
            f"{name} in {record.name}: {record.getMessage()[:120]}"
            for name, value in secrets.items()
            if value in text
        ]
    return found


@pytest.mark.stack_parameters(LogLevel="DEBUG")
def test_no_token_secret_or_product_appears_in_any_log_line(
    stack: EmbeddedStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for name in SERVICE_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)

    store = create_store(stack, "logged store")  # both token grants, through the API
    admin = ApiClient(stack, store.admin_token)
    attributes: dict[str, Any] = {
        "name": MARKERS["name"],
        "description": MARKERS["description"],
        "sku": MARKERS["sku"],
        "commodity_type": "physical",
        "status": "live",
        "admin_attributes": {"cost": MARKERS["cost"]},
        "shopper_attributes": {"fit": MARKERS["fit"]},
    }
    created = admin.create_product(attributes)
    admin.put(
        f"/pcm/products/{created['id']}", json_body={"data": {"type": "product", "attributes": attributes}}
    )
    ApiClient(stack, store.shopper_token).get(f"/pcm/products/{created['id']}")
    admin.get("/pcm/products", query={"filter": "eq(status,live)"})
    assert (
        admin.post("/pcm/products", json_body={"data": {"type": "product", "attributes": attributes}}).status
        == 409
    )
    job = admin.wait_for_job(admin.export(body=None)["id"])
    assert job["attributes"]["status"] == "success"
    keyed = admin.post(
        "/pcm/products/export", query={"spreadsheetSafe": "true"}, headers={"Idempotency-Key": "k1"}
    )
    admin.wait_for_job(keyed.json()["data"]["id"])
    webhook = admin.put(
        "/pcm/settings/webhook",
        json_body={"data": {"type": "webhook", "attributes": {"url": "https://h.example.com/x"}}},
    )
    ApiClient(stack, store.admin_token + "x").get("/pcm/products")  # a rejected token is logged as rejected

    ring = stack.client("secretsmanager").get_secret_value(SecretId=stack.refs["TokenSigningSecret"])
    secrets = {
        "admin token": store.admin_token,
        "shopper token": store.shopper_token,
        "token signature": store.admin_token.rsplit(".", 1)[1],
        "client secret": store.client_secret,
        "signing key": json.loads(ring["SecretString"])["current"],
        "webhook secret": webhook.json()["data"]["attributes"]["secret"],
        "download link signature": job["meta"]["file_locations"][0].rsplit("Signature=", 1)[1],
        **MARKERS,
    }
    service_records = [r for r in caplog.records if r.name.split(".")[0] in SERVICE_LOGGERS]
    assert len(service_records) >= 10, "the session was logged (the check below is not vacuous)"
    assert leaks(caplog.records, secrets) == []


def test_the_leak_check_finds_what_a_careless_log_line_would_hold(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("product-export.careless")
    with caplog.at_level(logging.DEBUG, logger="product-export"):
        logger.info("created", extra={"product": {"name": MARKERS["name"]}})
        logger.debug("token %s", "eyJ.secret.sig")
        try:
            raise ValueError(MARKERS["cost"])
        except ValueError:
            logger.exception("failed")
    found = leaks(
        caplog.records, {"name": MARKERS["name"], "token": "eyJ.secret.sig", "cost": MARKERS["cost"]}
    )
    assert len(found) == 3, found
