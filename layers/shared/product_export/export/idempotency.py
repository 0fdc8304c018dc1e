"""Idempotent export requests: the same Idempotency-Key and request within 24 h give the same job.

Powertools' idempotency utility keeps one record per (store, key) in the idempotency table, with a
hash of the request: a retry after a timeout gets the job the first call created, the same key
with another request is refused, and a request that failed leaves no record behind.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from product_export.adapters.aws import client
from product_export.errors import BadRequest, Conflict, Unprocessable
from product_export.export.service import ExportRequest, ExportService

WINDOW_SECONDS = 24 * 3600
HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces, as HTTP header tokens


class IdempotentExports:
    def __init__(self, exports: ExportService, table_name: str) -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath="[store_id, key]",
            payload_validation_jmespath="request",
            expires_after_seconds=WINDOW_SECONDS,
            raise_on_no_idempotency_key=True,
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client("dynamodb"))

        @idempotent_function(  # type: ignore[untyped-decorator]
            data_keyword_argument="command", config=self.config, persistence_store=persistence
        )
        def start_once(command: dict[str, Any]) -> dict[str, str]:
            request = ExportRequest(**command["request"])
            job = exports.start(command["store_id"], request, x_request_id=command["x_request_id"])
            return {"job_id": job.id}

        self._start_once = start_once

    def start(self, store_id: str, key: str, request: ExportRequest, *, x_request_id: str | None) -> str:
        """The id of the job this (store, key, request) started, starting it if it is the first call."""
        if not _KEY.match(key):
            raise BadRequest(
                f"{HEADER} must be 1 to 255 printable ASCII characters without spaces", source=HEADER
            )
        command = {
            "store_id": store_id,
            "key": key,
            "request": dataclasses.asdict(request),
            "x_request_id": x_request_id,
        }
        try:
            return self._start_once(command=command)["job_id"]  # type: ignore[no-any-return]
        except IdempotencyValidationError:
            raise Unprocessable(
                f"This {HEADER} was already used with a different request", source=HEADER
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise Conflict(
                f"A request with this {HEADER} is still in progress; retry shortly", source=HEADER
            ) from None
