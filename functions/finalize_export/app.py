"""Workflow step: record the export's outcome on the job (success with parts, or failed with errors)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from product_export.adapters.aws import transient_errors
from product_export.adapters.events import CompletionEvents
from product_export.adapters.jobs_table import JobsTable
from product_export.adapters.parts_bucket import PartsBucket
from product_export.export.service import ExportService
from product_export.settings import (
    CompletionEventsSettings,
    JobsTableSettings,
    PartsBucketSettings,
    load_settings,
)


class Settings(JobsTableSettings, PartsBucketSettings, CompletionEventsSettings):
    """FinalizeExportFunction's Environment (template.yaml)."""


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
metrics = Metrics()
events = CompletionEvents(settings.event_bus_name, retention_days=settings.part_retention_days)
exports = ExportService(
    jobs=JobsTable(settings.jobs_table, on_final=events.publish), bucket=PartsBucket(settings.parts_bucket)
)


@logger.inject_lambda_context(correlation_id_path="job_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = event["outcome"]
    payload = event["parts"] if outcome == "written" else event["failure"]
    with transient_errors():
        result = exports.finish(event["store_id"], event["job_id"], outcome, payload)
    logger.info("export finished", extra={"status": result["status"]})
    metrics.add_metric(name=f"Exports{result['status'].capitalize()}", unit=MetricUnit.Count, value=1)
    return result
