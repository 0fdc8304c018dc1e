"""Workflow step: one attempt to take one of the store's export slots (per-store fairness)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from product_export.adapters.aws import transient_errors
from product_export.adapters.jobs_table import JobsTable
from product_export.jobs.slots import ExportSlots
from product_export.settings import JobsTableSettings, load_settings


class Settings(JobsTableSettings):
    """AcquireExportSlotFunction's Environment (template.yaml)."""


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
slots = ExportSlots(JobsTable(settings.jobs_table))


@logger.inject_lambda_context(correlation_id_path="job_id")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with transient_errors():
        decision = slots.acquire(
            event["store_id"],
            event["job_id"],
            limit=int(event["slots"]),
            attempt=int(event.get("attempt", 0)),
        )
    logger.info("export slot", extra=decision)
    return decision
