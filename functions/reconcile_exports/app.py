"""Reconciles export jobs with their executions: on execution status change events and on a schedule."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from product_export.adapters.events import CompletionEvents
from product_export.adapters.jobs_table import JobsTable
from product_export.adapters.parts_bucket import PartsBucket
from product_export.adapters.workflow import ExportWorkflow
from product_export.jobs.reconcile import Reconciler
from product_export.settings import (
    CompletionEventsSettings,
    JobsTableSettings,
    PartsBucketSettings,
    WorkflowSettings,
    load_settings,
)


class Settings(JobsTableSettings, WorkflowSettings, PartsBucketSettings, CompletionEventsSettings):
    """ReconcileExportsFunction's Environment (template.yaml)."""


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
metrics = Metrics()
events = CompletionEvents(settings.event_bus_name, retention_days=settings.part_retention_days)
reconciler = Reconciler(
    JobsTable(settings.jobs_table, on_final=events.publish),
    ExportWorkflow(settings.export_state_machine_arn),
    PartsBucket(settings.parts_bucket),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == "Step Functions Execution Status Change":
        detail = event["detail"]
        job = json.loads(detail["input"])
        logger.set_correlation_id(job["job_id"])
        status = reconciler.execution_ended(job["store_id"], job["job_id"], detail["status"])
        return {"job_id": job["job_id"], "status": status}
    failed = reconciler.sweep()
    metrics.add_metric(name="JobsReconciled", unit=MetricUnit.Count, value=len(failed))
    return {"reconciled": [job.id for job in failed]}
