"""EventBridge: the export completion events (one per job reaching a final status)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from product_export.adapters.aws import client
from product_export.jobs.models import Job
from product_export.notifications.events import SOURCE, completion_detail, detail_type

logger = Logger()
ATTEMPTS = 3  # an entry EventBridge refused (FailedEntryCount) is sent again this often in all


class CompletionEvents:
    """Publishes a job's completion event on ``bus_name``; never raises. ``retention_days``: how long
    the job's parts stay in the bucket (the event says when they expire).

    Called once the conditional transition to the final status has succeeded (see
    ``JobsTable(on_final=...)``), so each final transition publishes once. botocore retries
    throttling and service errors within each call; an event that still cannot be published is
    logged (``completion event not published``) rather than failing the export or the request.
    """

    def __init__(self, bus_name: str, *, retention_days: int) -> None:
        self.bus_name = bus_name
        self.retention_days = retention_days
        self.events = client("events")

    def publish(self, job: Job) -> None:
        entry: dict[str, Any] = {
            "Source": SOURCE,
            "DetailType": detail_type(job.status),
            "Detail": json.dumps(
                completion_detail(job, retention_days=self.retention_days), separators=(",", ":")
            ),
            "EventBusName": self.bus_name,
        }
        reason = "refused"
        for _ in range(ATTEMPTS):
            try:
                response = self.events.put_events(Entries=[entry])
            except ClientError as error:  # already retried by botocore
                reason = str(error.response.get("Error", {}).get("Code", type(error).__name__))
                break
            except BotoCoreError as error:  # e.g. no connection, after botocore's retries
                reason = type(error).__name__
                break
            if not response.get("FailedEntryCount"):
                return
            reason = str(response["Entries"][0].get("ErrorCode", "refused"))
        logger.error(
            "completion event not published",
            extra={"job_id": job.id, "store_id": job.store_id, "status": job.status, "reason": reason},
        )
