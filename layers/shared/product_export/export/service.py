"""The export use cases: start a job, plan its parts, write a part, record the outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from product_export.adapters.jobs_table import JobsTable, TransitionRejected
from product_export.adapters.parts_bucket import PartsBucket
from product_export.adapters.products_table import ProductsTable
from product_export.adapters.workflow import ExportWorkflow
from product_export.catalogue.service import matching_products
from product_export.export.columns import Column, build_columns, validate_include
from product_export.export.planner import PartPlan, cut_parts
from product_export.export.writer import write_csv
from product_export.filters import format_filter, parse_filter, referenced_attributes
from product_export.ids import uuid7
from product_export.jobs.models import FINAL_STATUSES, Job
from product_export.values import now_timestamp

MAX_ERROR_CHARS = 1000


class JobNotRunning(Exception):
    """The job left the ``started`` status (cancelled): the workflow step stops without writing."""


@dataclass(frozen=True)
class ExportRequest:
    filter: str | None
    use_template_slugs: bool = False
    include: list[str] | None = None


def plan_key(job: Job) -> str:
    return f"{job.store_id}/{job.id}/plan.json"


def part_key(job: Job, number: int) -> str:
    """``<store_id>/<job_id>/<YYYYMMDD>_<HHMMSS>_part_<N>.csv``, stamped with the job's creation time."""
    stamp = job.created_at[:19].replace("-", "").replace(":", "").replace("T", "_")
    return f"{job.store_id}/{job.id}/{stamp}_part_{number}.csv"


def job_prefix(job: Job) -> str:
    return f"{job.store_id}/{job.id}/"


class ExportService:
    def __init__(
        self,
        *,
        jobs: JobsTable,
        products: ProductsTable | None = None,
        bucket: PartsBucket | None = None,
        workflow: ExportWorkflow | None = None,
        part_size: int = 50_000,
    ) -> None:
        self.jobs = jobs
        self._products = products
        self._bucket = bucket
        self._workflow = workflow
        self.part_size = part_size

    @property
    def products(self) -> ProductsTable:
        assert self._products is not None, "this service was built without the products table"
        return self._products

    @property
    def bucket(self) -> PartsBucket:
        assert self._bucket is not None, "this service was built without the parts bucket"
        return self._bucket

    @property
    def workflow(self) -> ExportWorkflow:
        assert self._workflow is not None, "this service was built without the workflow"
        return self._workflow

    # --- API ----------------------------------------------------------------------------------
    def start(self, store_id: str, request: ExportRequest, *, x_request_id: str | None) -> Job:
        """Validate, record a ``pending`` job and start its workflow (named by the job id)."""
        expr = parse_filter(request.filter)
        include = validate_include(request.include) if request.include is not None else None
        now = now_timestamp()
        job = Job(
            id=uuid7(),
            store_id=store_id,
            created_at=now,
            updated_at=now,
            filter=format_filter(expr) if expr is not None else None,
            use_template_slugs=request.use_template_slugs,
            columns=include,
            x_request_id=x_request_id,
        )
        self.jobs.create(job)
        try:
            self.workflow.start(store_id, job.id)
        except Exception:
            self._record_failure(job, ["The export could not be started; try again"])
            raise
        return job

    # --- workflow steps -----------------------------------------------------------------------
    def plan(self, store_id: str, job_id: str) -> dict[str, Any]:
        """Mark the job started, cut its parts and store the header every part will use."""
        job = self._enter_started(store_id, job_id)
        expr = parse_filter(job.filter)
        wanted = {"pk", "sk", "product_types", "columns"} | set(referenced_attributes(expr))
        column_index: set[str] = set()

        def keys() -> Any:
            for item in matching_products(
                self.products, store_id, expr, include_bundles=False, attributes=wanted
            ):
                column_index.update(item.get("columns", ()))
                yield int(item["pk"].rsplit("#", 1)[1]), item["sk"]

        parts = [part.to_json() for part in cut_parts(keys(), self.part_size)]
        columns = build_columns(
            column_index, store_id=store_id, use_template_slugs=job.use_template_slugs, include=job.columns
        )
        self.bucket.put_json(plan_key(job), {"columns": [column.to_json() for column in columns]})
        return {"parts": parts, "products": sum(part["products"] for part in parts)}

    def write_part(self, store_id: str, job_id: str, part_json: dict[str, Any]) -> dict[str, Any]:
        """Stream one part's products from DynamoDB to its CSV object."""
        job = self._running_job(store_id, job_id)
        part = PartPlan.from_json(part_json)
        columns = [Column.from_json(value) for value in self.bucket.get_json(plan_key(job))["columns"]]
        expr = parse_filter(job.filter)
        items = matching_products(self.products, store_id, expr, include_bundles=False, ranges=part.ranges)
        key = part_key(job, part.number)
        with self.bucket.upload(key) as upload:
            rows = write_csv(columns, items, upload)
            self._running_job(store_id, job_id)  # a cancelled job's part is aborted, not completed
        return {"number": part.number, "key": key, "rows": rows, "bytes": upload.size}

    def finish(self, store_id: str, job_id: str, outcome: str, payload: Any) -> dict[str, Any]:
        """Record the outcome: ``written`` with the parts' results, or ``failed`` with the caught error."""
        job = self.jobs.get(store_id, job_id)
        if job.status in FINAL_STATUSES:
            # Cancelled while running (or a retried step): the job keeps its status and gets no
            # error for the steps that stopped because of it; a cancelled job keeps no parts.
            if job.status != "success":
                self.bucket.delete_prefix(job_prefix(job))
            return {"status": job.status}
        if outcome == "written":
            failed = [part for part in payload if "error" in part]
            if not failed:
                return self._record_success(job, payload)
            messages = [
                f"Part {part['number']} failed: {describe_failure(part['error'], part.get('cause'))}"
                for part in sorted(failed, key=lambda p: int(p["number"]))
            ]
        else:
            messages = [f"Export failed: {describe_failure(payload.get('Error'), payload.get('Cause'))}"]
        return {"status": self._record_failure(job, messages).status}

    def _record_success(self, job: Job, parts: list[dict[str, Any]]) -> dict[str, Any]:
        files = sorted(
            ({"number": p["number"], "key": p["key"], "rows": p["rows"], "bytes": p["bytes"]} for p in parts),
            key=lambda f: int(f["number"]),
        )
        # The plan goes first: once the job reads "success" its folder holds exactly its parts.
        self.bucket.delete_prefix(plan_key(job))
        now = now_timestamp()
        try:
            done = self.jobs.transition(
                job.store_id,
                job.id,
                "success",
                files=files,
                products=sum(int(f["rows"]) for f in files),
                completed_at=now,
                updated_at=now,
            )
        except TransitionRejected as rejected:
            # Cancelled meanwhile: its parts must not outlive it.
            self.bucket.delete_prefix(job_prefix(job))
            return {"status": rejected.job.status}
        return {"status": done.status}

    def _record_failure(self, job: Job, messages: list[str]) -> Job:
        self.jobs.add_errors(job.store_id, job.id, messages)
        if self._bucket is not None:
            self.bucket.delete_prefix(job_prefix(job))  # a failed job never keeps or lists files
        now = now_timestamp()
        try:
            return self.jobs.transition(
                job.store_id, job.id, "failed", error_count=len(messages), completed_at=now, updated_at=now
            )
        except TransitionRejected as rejected:
            return rejected.job

    def _enter_started(self, store_id: str, job_id: str) -> Job:
        now = now_timestamp()
        current = self.jobs.get(store_id, job_id)
        try:
            return self.jobs.transition(
                store_id, job_id, "started", started_at=current.started_at or now, updated_at=now
            )
        except TransitionRejected as rejected:
            raise JobNotRunning(f"Job {job_id} is {rejected.job.status}") from rejected

    def _running_job(self, store_id: str, job_id: str) -> Job:
        job = self.jobs.get(store_id, job_id)
        if job.status != "started":
            raise JobNotRunning(f"Job {job_id} is {job.status}")
        return job


def describe_failure(error: str | None, cause: str | None) -> str:
    """A readable one-line message from a Step Functions error name and cause (no stack traces)."""
    text = cause or ""
    try:
        parsed = json.loads(text)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        kind = parsed.get("errorType") or error or "Error"
        text = f"{kind}: {parsed['errorMessage']}"
    elif error and text:
        text = f"{error}: {text}"
    else:
        text = text or error or "unknown error"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
