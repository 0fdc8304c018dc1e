"""Workflow step (one iteration of the shard-group Map): plan a group of shards' parts from their keys."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
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
    """PlanShardGroupFunction's Environment (template.yaml)."""


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
exports = ExportService(
    jobs=JobsTable(settings.jobs_table),
    products=ProductsTable(settings.products_table),
    bucket=PartsBucket(settings.parts_bucket),
    part_size=settings.part_size,
)


@logger.inject_lambda_context(correlation_id_path="job_id")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with transient_errors():
        planned = exports.plan_shard_group(event["store_id"], event["job_id"], list(event["shards"]))
    logger.info("shards planned", extra=planned)
    return planned
