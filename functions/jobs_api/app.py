"""POST /pcm/products/export and the jobs API (/pcm/jobs...). Administrator tokens only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from product_export.adapters.events import CompletionEvents
from product_export.adapters.jobs_table import JobsTable
from product_export.adapters.links import PartLinks, link_signer
from product_export.adapters.parts_bucket import PartsBucket
from product_export.adapters.workflow import ExportWorkflow
from product_export.api.documents import (
    JobAnswer,
    JobErrorList,
    JobList,
    JobResource,
    answer,
    error_resource,
    job_resource,
    list_meta,
)
from product_export.api.http import admin_of, create_resolver, json_body, path_id
from product_export.api.parameters import (
    COMPRESSION,
    FILTER,
    IDEMPOTENCY_KEY,
    SINCE,
    SPREADSHEET_SAFE,
    USE_TEMPLATE_SLUGS,
    page_of,
)
from product_export.export.idempotency import IdempotentExports
from product_export.export.quota import ExportQuota
from product_export.export.requests import ExportBody
from product_export.export.service import ExportRequest, ExportService
from product_export.jobs.models import Job
from product_export.jobs.service import JobsService
from product_export.settings import (
    CompletionEventsSettings,
    DownloadLinkSettings,
    JobsTableSettings,
    Name,
    WorkflowSettings,
    load_settings,
)


class Settings(JobsTableSettings, WorkflowSettings, CompletionEventsSettings, DownloadLinkSettings):
    """JobsApiFunction's Environment (template.yaml)."""

    idempotency_table: Name = Field(alias="IDEMPOTENCY_TABLE")
    # Exports one store may start in any hour (0: no cap).
    exports_per_store_per_hour: int = Field(alias="EXPORTS_PER_STORE_PER_HOUR", ge=0)


settings = load_settings(Settings)
logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = create_resolver()
events = CompletionEvents(settings.event_bus_name, retention_days=settings.part_retention_days)
jobs_table = JobsTable(settings.jobs_table, on_final=events.publish)  # cancelled or failed: an event
bucket, workflow = PartsBucket(settings.parts_bucket), ExportWorkflow(settings.export_state_machine_arn)
exports = ExportService(
    jobs=jobs_table, workflow=workflow, quota=ExportQuota(jobs_table, settings.exports_per_store_per_hour)
)
idempotent_exports = IdempotentExports(exports, settings.idempotency_table)
jobs = JobsService(jobs_table, bucket, workflow)


part_links = PartLinks(
    link_signer(settings), ttl_seconds=settings.download_link_ttl, retention_days=settings.part_retention_days
)


def _job(job: Job) -> JobResource:
    files = part_links.of(job)
    return job_resource(job, files.sign, files_expire_at=files.expires_at, expired=files.expired)


@app.post("/pcm/products/export")
@tracer.capture_method
def export_products() -> Response[str]:
    caller = admin_of(app)
    body = ExportBody.model_validate(json_body(app, required=False) or {})
    request = ExportRequest(
        filter=FILTER.read(app),
        use_template_slugs=USE_TEMPLATE_SLUGS.read(app),
        include=body.include,
        since=SINCE.read(app),
        spreadsheet_safe=SPREADSHEET_SAFE.read(app),
        compression=COMPRESSION.read(app),
    )
    request_id = app.current_event.request_context.request_id
    key = IDEMPOTENCY_KEY.read(app)
    if key is None:
        job = exports.start(caller.store_id, request, x_request_id=request_id)
    else:
        job = jobs.get(
            caller.store_id, idempotent_exports.start(caller.store_id, key, request, x_request_id=request_id)
        )
    logger.append_keys(job_id=job.id)
    logger.info("export started")
    metrics.add_metric(name="ExportsStarted", unit=MetricUnit.Count, value=1)
    return answer(JobAnswer(data=_job(job)), status=201)


@app.get("/pcm/jobs")
@tracer.capture_method
def list_jobs() -> Response[str]:
    caller = admin_of(app)
    offset, limit = page_of(app)
    found, total = jobs.list_jobs(caller.store_id, offset=offset, limit=limit)
    return answer(JobList(data=[_job(job) for job in found], meta=list_meta(total)))


@app.get("/pcm/jobs/<job_id>")
@tracer.capture_method
def get_job(job_id: str) -> Response[str]:
    caller = admin_of(app)
    job_id = path_id(job_id, "Job")
    return answer(JobAnswer(data=_job(jobs.get(caller.store_id, job_id))))


@app.get("/pcm/jobs/<job_id>/errors")
@tracer.capture_method
def get_job_errors(job_id: str) -> Response[str]:
    caller = admin_of(app)
    job_id = path_id(job_id, "Job")
    offset, limit = page_of(app)
    found, total = jobs.errors(caller.store_id, job_id, offset=offset, limit=limit)
    return answer(
        JobErrorList(
            data=[error_resource(number, message) for number, message in found], meta=list_meta(total)
        )
    )


@app.post("/pcm/jobs/<job_id>/cancel")
@tracer.capture_method
def cancel_job(job_id: str) -> Response[str]:
    caller = admin_of(app)
    job_id = path_id(job_id, "Job")
    job = jobs.cancel(caller.store_id, job_id)
    logger.info("job cancelled", extra={"job_id": job_id})
    return answer(JobAnswer(data=_job(job)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotent_exports.config.register_lambda_context(context)
    return app.resolve(event, context)
