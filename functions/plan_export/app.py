"""Workflow step: mark the job started and fix what it holds; name the shards to plan."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from product_export.adapters.aws import transient_errors
from product_export.adapters.jobs_table import JobsTable
from product_export.export.service import ExportService
from product_export.settings import JobsTableSettings, load_settings


class Settings(JobsTableSettings):
    """PlanExportFunction's Environment (template.yaml)."""

    # An export's cut-over lags its planning by this long (template Parameter DeltaSettleSeconds).
    delta_settle_seconds: int = Field(alias="DELTA_SETTLE_SECONDS", ge=0)


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
exports = ExportService(jobs=JobsTable(settings.jobs_table), settle_seconds=settings.delta_settle_seconds)


@logger.inject_lambda_context(correlation_id_path="job_id")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with transient_errors():
        started = exports.begin_plan(event["store_id"], event["job_id"])
    logger.info("export started", extra={"planners": len(started["groups"])})
    return started
