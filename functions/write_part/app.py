"""Workflow step (one Map iteration): write one CSV part from DynamoDB to S3."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from product_export.adapters.aws import transient_errors
from product_export.adapters.job_progress import JobProgressTable
from product_export.adapters.jobs_table import JobsTable
from product_export.adapters.parts_bucket import PartsBucket
from product_export.adapters.products_table import ProductsTable
from product_export.export.service import ExportService
from product_export.settings import (
    JobsTableSettings,
    PartsBucketSettings,
    PartSizeSettings,
    ProductsTableSettings,
    load_settings,
)


class Settings(JobsTableSettings, ProductsTableSettings, PartsBucketSettings, PartSizeSettings):
    """WritePartFunction's Environment (template.yaml)."""

    # A part writer records its running row count on the job at most this often (export/progress.py).
    progress_interval_seconds: float = Field(alias="PROGRESS_INTERVAL_SECONDS", ge=0)


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
metrics = Metrics()
exports = ExportService(
    jobs=JobsTable(settings.jobs_table),
    products=ProductsTable(settings.products_table),
    bucket=PartsBucket(settings.parts_bucket),
    part_size=settings.part_size,  # the most rows one file may hold (export/overflow.py)
    progress=JobProgressTable(settings.jobs_table),
    progress_seconds=settings.progress_interval_seconds,
)


@logger.inject_lambda_context(correlation_id_path="job_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with transient_errors():
        written = exports.write_part(event["store_id"], event["job_id"], event["part"])
    logger.info(
        "part written", extra={"part": written["number"], "rows": written["rows"], "bytes": written["bytes"]}
    )
    metrics.add_metric(name="ProductsExported", unit=MetricUnit.Count, value=written["rows"])
    return written
