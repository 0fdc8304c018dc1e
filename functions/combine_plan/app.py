"""Workflow step: cut the shard groups' remainders together and store the export's part list."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from product_export.adapters.aws import transient_errors
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
    """CombinePlanFunction's Environment (template.yaml)."""


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
metrics = Metrics()
exports = ExportService(
    jobs=JobsTable(settings.jobs_table),
    products=ProductsTable(settings.products_table),
    bucket=PartsBucket(settings.parts_bucket),
    part_size=settings.part_size,
)


@logger.inject_lambda_context(correlation_id_path="job_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with transient_errors():
        plan = exports.combine_plan(event["store_id"], event["job_id"], list(event["groups"]))
    logger.info("export planned", extra={"parts": plan["parts"], "products": plan["products"]})
    metrics.add_metric(name="ProductsPlanned", unit=MetricUnit.Count, value=plan["products"])
    return plan
