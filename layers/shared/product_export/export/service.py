"""The export use cases: start a job, plan its parts, write a part, record the outcome."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from product_export.adapters.jobs_table import JobsTable, TransitionRejected
from product_export.adapters.parts_bucket import PartsBucket
from product_export.adapters.products_table import (
    PLANNING_INDEX,
    PLANNING_INDEX_ATTRIBUTES,
    KeyRange,
    ProductsTable,
)
from product_export.adapters.workflow import ExportWorkflow
from product_export.catalogue.models import SHARD_COUNT
from product_export.catalogue.service import matching_products, updated_window
from product_export.export import spreadsheet
from product_export.export.columns import Column, build_columns, validate_include
from product_export.export.compression import content_type, part_suffix, validate_compression
from product_export.export.delta import (
    IndexPart,
    cut_index_parts,
    cutover_time,
    export_filter,
    in_key_order,
    is_index_part,
    validate_since,
)
from product_export.export.manifest import manifest_document, manifest_key
from product_export.export.overflow import OVERFLOW, number_overflow, overflow_key, runs
from product_export.export.planner import (
    PartPlan,
    ShardCut,
    combine_shards,
    cover_key_space,
    cut_shard,
    in_snapshot,
    shard_groups,
)
from product_export.export.progress import PartProgress, ProgressRecorder
from product_export.export.quota import ExportQuota
from product_export.export.rows import PartRows
from product_export.export.writer import write_csv
from product_export.filters import Expr, format_filter, parse_filter, referenced_attributes
from product_export.ids import uuid7
from product_export.jobs.models import FINAL_STATUSES, Job, PartFile
from product_export.values import now_timestamp

MAX_ERROR_CHARS = 1000
# A Lambda function that ran out of time, and a Task state that waited longer than its TimeoutSeconds.
TIMEOUT_ERRORS = frozenset({"Sandbox.Timedout", "States.Timeout"})


class JobNotRunning(Exception):
    """The job left the ``started`` status (cancelled): the workflow step stops without writing."""


class ShardPlanningFailed(Exception):
    """A shard-group planner failed (after its retries): the export fails with what each reported."""


@dataclass(frozen=True)
class ExportRequest:
    filter: str | None
    use_template_slugs: bool = False
    include: list[str] | None = None
    since: str | None = None  # "last-success": only what changed since the last successful export
    spreadsheet_safe: bool = False  # export/spreadsheet.py
    compression: str | None = None  # "gzip": .csv.gz parts (export/compression.py)


def plan_key(job: Job) -> str:
    """The header every part uses (written when planning ends, removed when the export succeeds)."""
    return f"{job.store_id}/{job.id}/plan.json"


def plan_folder(job: Job) -> str:
    """Planning's working files, beside plan.json: one per group of shards, then the part list."""
    return f"{job.store_id}/{job.id}/plan/"


def shard_group_plan_key(job: Job, shards: Sequence[int]) -> str:
    """One shard-group planner's output (per shard: full ranges, remainder ids; the group's column
    index), until combined. Groups do not overlap, so the first shard names the group."""
    return f"{plan_folder(job)}shards-{shards[0]:02d}.json"


def planning_index(expr: Expr | None) -> str | None:
    """The slim index planning reads when it holds every attribute the planner decides on (the
    snapshot bound and the filter's fields); None: the filter names a field only the table has."""
    if referenced_attributes(expr) <= PLANNING_INDEX_ATTRIBUTES:
        return PLANNING_INDEX
    return None


def part_list_key(job: Job) -> str:
    """The part descriptors as one JSON array: the part writers' Distributed Map reads its items
    from here (``ItemReader``), so the list never passes through the workflow's payload."""
    return f"{plan_folder(job)}parts.json"


def part_key(job: Job, number: int) -> str:
    """``<store_id>/<job_id>/<YYYYMMDD>_<HHMMSS>_part_<N>.csv`` (``.csv.gz`` when gzipped), stamped
    with the job's creation time."""
    stamp = job.created_at[:19].replace("-", "").replace(":", "").replace("T", "_")
    return f"{job.store_id}/{job.id}/{stamp}_part_{number}{part_suffix(job.compression)}"


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
        settle_seconds: int = 30,
        quota: ExportQuota | None = None,
        progress: ProgressRecorder | None = None,
        progress_seconds: float = 5,
    ) -> None:
        self.jobs = jobs
        self.progress = progress  # where part writers record live progress (export/progress.py)
        self.progress_seconds = progress_seconds
        self.quota = quota  # exports per store per hour (export/quota.py)
        self.settle_seconds = settle_seconds  # how far an export's cut-over lags its planning
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
        since = validate_since(request.since)
        compression = validate_compression(request.compression)
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
            since=since,
            spreadsheet_safe=request.spreadsheet_safe,
            compression=compression,
        )
        if self.quota is not None:
            self.quota.check(store_id)
        self.jobs.create(job)
        try:
            self.workflow.start(store_id, job.id)
        except Exception:
            self._record_failure(job, ["The export could not be started; try again"])
            raise
        return job

    # --- workflow steps -----------------------------------------------------------------------
    def begin_plan(self, store_id: str, job_id: str) -> dict[str, Any]:
        """Mark the job started and fix what it holds (snapshot, cut-over); returns the groups of
        shards to plan, one planner each (``plan_shard_group``). A delta export reads the
        updated-at index in update order across shards, so it has no groups: ``combine_plan``
        plans it whole."""
        job = self._set_cutover(self._enter_started(store_id, job_id))
        expr = in_snapshot(export_filter(job), job.snapshot_at)
        delta = updated_window(expr, job.cutover_at) is not None
        return {"groups": [] if delta else shard_groups()}

    def plan_shard_group(self, store_id: str, job_id: str, shards: Sequence[int]) -> dict[str, Any]:
        """Read a group of shards' matching keys, all at once (a thread each): cut each shard's full
        parts and store them, its remainder ids and the group's column index in the group's plan
        file; returns a summary small enough for the workflow."""
        job = self._running_job(store_id, job_id)
        shards = [int(shard) for shard in shards]
        if not shards or len(set(shards)) != len(shards) or not set(shards) <= set(range(SHARD_COUNT)):
            raise ValueError(f"shards {shards} are not a group of the {SHARD_COUNT} shards")
        expr = in_snapshot(export_filter(job), job.snapshot_at)
        index = planning_index(expr)
        wanted = {"sk", "product_types", "columns"} | set(referenced_attributes(expr))
        column_index: set[str] = set()  # set.update holds the GIL: safe from the reader threads

        def plan(shard: int) -> ShardCut:
            def ids() -> Iterator[str]:
                for item in matching_products(
                    self.products,
                    store_id,
                    expr,
                    include_bundles=False,
                    ranges=[KeyRange(shard)],
                    attributes=wanted,
                    index=index,
                ):
                    column_index.update(item.get("columns", ()))
                    yield item["sk"]

            return cut_shard(shard, ids(), self.part_size)

        with ThreadPoolExecutor(max_workers=len(shards)) as pool:
            cuts = list(pool.map(plan, shards))
        self.bucket.put_json(
            shard_group_plan_key(job, shards),
            {
                "shards": [
                    {
                        "shard": cut.shard,
                        "full": [[r.first, r.last] for r in cut.full],
                        "remainder": cut.remainder,
                    }
                    for cut in cuts
                ],
                "columns": sorted(column_index),
            },
        )
        return {
            "shards": shards,
            "products": sum(cut.products for cut in cuts),
            "full_parts": sum(len(cut.full) for cut in cuts),
            "source": index or "table",
        }

    def combine_plan(self, store_id: str, job_id: str, groups: list[dict[str, Any]]) -> dict[str, Any]:
        """Cut the shards' remainders together, number the parts, store the header (plan.json) and
        the part list the part writers' Map reads, record what progress counts against and remove
        the group files. ``groups`` are the shard-group planners' summaries; with none (a delta
        export) the parts are cut here from the updated-at index."""
        job = self._running_job(store_id, job_id)
        failed = sorted((g for g in groups if "error" in g), key=lambda g: min(g["shards"]))
        if failed:
            raise ShardPlanningFailed(
                "; ".join(
                    f"shards {_shard_span(g['shards'])} could not be planned: "
                    f"{describe_failure(g['error'], g.get('cause'))}"
                    for g in failed
                )
            )
        expr = in_snapshot(export_filter(job), job.snapshot_at)
        column_index: set[str] = set()
        cut: Any
        if groups:
            planned = sorted(int(shard) for g in groups for shard in g["shards"])
            if planned != list(range(SHARD_COUNT)):
                raise ValueError(f"planned shards {planned} are not the store's {SHARD_COUNT} shards")
            # Fetched at once: 16 small objects, each a round trip.
            with ThreadPoolExecutor(max_workers=len(groups)) as pool:
                documents = list(
                    pool.map(lambda g: self.bucket.get_json(shard_group_plan_key(job, g["shards"])), groups)
                )
            cuts = []
            for group, document in zip(groups, documents, strict=True):
                stored = [int(planned_shard["shard"]) for planned_shard in document["shards"]]
                if stored != [int(shard) for shard in group["shards"]]:  # a summary that lies loses rows
                    raise ValueError(f"the plan file of shards {group['shards']} holds shards {stored}")
                column_index.update(document["columns"])
                cuts += [
                    ShardCut(
                        int(planned_shard["shard"]),
                        self.part_size,
                        [
                            KeyRange(int(planned_shard["shard"]), first, last)
                            for first, last in planned_shard["full"]
                        ],
                        planned_shard["remainder"],
                    )
                    for planned_shard in document["shards"]
                ]
            cuts.sort(key=lambda c: c.shard)  # the remainders are cut together in shard order
            cut = cover_key_space(combine_shards(cuts, self.part_size), range(SHARD_COUNT))
        else:  # read from the updated-at index: parts are (updated_at, id) ranges
            wanted = {"pk", "sk", "updated_at", "product_types", "columns"} | set(referenced_attributes(expr))

            def keys() -> Iterator[tuple[int, str, str]]:
                for item in matching_products(
                    self.products,
                    store_id,
                    expr,
                    include_bundles=False,
                    attributes=wanted,
                    cutover=job.cutover_at,
                ):
                    column_index.update(item.get("columns", ()))
                    yield int(item["pk"].rsplit("#", 1)[1]), item["updated_at"], item["sk"]

            cut = cut_index_parts(in_key_order(keys()), self.part_size)
        parts = [part.to_json() for part in cut]
        columns = build_columns(
            column_index, store_id=store_id, use_template_slugs=job.use_template_slugs, include=job.columns
        )
        self.bucket.put_json(plan_key(job), {"columns": [column.to_json() for column in columns]})
        self.bucket.put_json(part_list_key(job), parts)
        products = sum(part["products"] for part in parts)
        self._record_plan(job, products=products, parts=len(parts))
        # Best effort, never failing the step once the plan is recorded (a retry would find group
        # files gone): FinalizeExport removes the plan folder, a failed export its whole folder.
        with contextlib.suppress(Exception):
            self.bucket.delete_keys([shard_group_plan_key(job, g["shards"]) for g in groups])
        return {"products": products, "parts": len(parts), "parts_key": part_list_key(job)}

    def write_part(self, store_id: str, job_id: str, part_json: dict[str, Any]) -> dict[str, Any]:
        """Stream one part's products from DynamoDB to its CSV object."""
        job = self._running_job(store_id, job_id)
        part = IndexPart.from_json(part_json) if is_index_part(part_json) else PartPlan.from_json(part_json)
        columns = [Column.from_json(value) for value in self.bucket.get_json(plan_key(job))["columns"]]
        expr = in_snapshot(export_filter(job), job.snapshot_at)
        # Rows straight from the Query bodies (export/rows.py), unless neutralising decoded values.
        products = self.products if job.spreadsheet_safe else self.products.reading(PartRows(columns, expr))
        items = matching_products(
            products,
            store_id,
            expr,
            include_bundles=False,
            ranges=part.ranges,
            cutover=job.cutover_at,
        )
        if isinstance(part, PartPlan):
            items = part.without_edges(items)
        if job.spreadsheet_safe:
            columns, items = spreadsheet.neutralise_columns(columns), spreadsheet.neutralise_items(items)
        progress = None
        if self.progress is not None:
            progress = PartProgress(
                self.progress, store_id, job_id, part.number, interval_seconds=self.progress_seconds
            )
            items = progress.count(items)
        # At most part_size rows a file: rows beyond go to overflow files (export/overflow.py).
        files: list[dict[str, Any]] = []
        for index, run in enumerate(runs(items, self.part_size)):
            key = overflow_key(job, part.number, index) if index else part_key(job, part.number)
            with self.bucket.upload(
                key, content_type=content_type(job.compression), compression=job.compression
            ) as upload:
                if job.spreadsheet_safe:
                    upload.write(spreadsheet.BOM)
                rows = write_csv(columns, run, upload)
                self._running_job(store_id, job_id)  # a cancelled job's part is aborted, not completed
            files.append({"key": key, "rows": rows, "bytes": upload.size, "sha256": upload.sha256})
        if progress is not None:
            progress.done(sum(int(file["rows"]) for file in files))
        written: dict[str, Any] = {"number": part.number, **files[0]}
        if len(files) > 1:
            written[OVERFLOW] = files[1:]
        return written

    def finish(self, store_id: str, job_id: str, outcome: str, payload: Any) -> dict[str, Any]:
        """Record the outcome: ``written`` with the parts' results, or ``failed`` with the caught error.

        The job is final afterwards, so its export slot goes back to the store (also when this step
        is repeated: giving a slot back twice is harmless).
        """
        result = self._record_outcome(store_id, job_id, outcome, payload)
        # A part writer killed by its time limit (and retried) left its multipart upload open.
        self.bucket.abort_uploads(f"{store_id}/{job_id}/")
        self.jobs.release_slot(store_id, job_id)
        return result

    def _record_outcome(self, store_id: str, job_id: str, outcome: str, payload: Any) -> dict[str, Any]:
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
        parts = number_overflow(self.bucket, job, parts, part_key)  # export/overflow.py
        files = sorted(
            (
                {
                    "number": p["number"],
                    "key": p["key"],
                    "rows": p["rows"],
                    "bytes": p["bytes"],
                    **({"sha256": p["sha256"]} if p.get("sha256") else {}),
                }
                for p in parts
            ),
            key=lambda f: int(f["number"]),
        )
        # The manifest is written while the plan (which holds the header) is still there; then the
        # plan goes: once the job reads "success" its folder holds exactly its parts and its manifest.
        manifest = self._write_manifest(job, [PartFile.model_validate(f) for f in files])
        self.bucket.delete_prefix(plan_folder(job))
        self.bucket.delete_prefix(plan_key(job))
        now = now_timestamp()
        try:
            done = self.jobs.transition(
                job.store_id,
                job.id,
                "success",
                files=files,
                manifest_key=manifest,
                products=sum(int(f["rows"]) for f in files),
                completed_at=now,
                updated_at=now,
            )
        except TransitionRejected as rejected:
            # Cancelled meanwhile: its parts must not outlive it.
            self.bucket.delete_prefix(job_prefix(job))
            return {"status": rejected.job.status}
        return {"status": done.status}

    def _write_manifest(self, job: Job, files: list[PartFile]) -> str:
        """Write ``manifest.json`` beside the parts; returns its key. The header comes from the plan,
        or, when this step is repeated after the plan was removed, from the manifest written then."""
        key = manifest_key(job)
        plan = self.bucket.get_json_if_exists(plan_key(job))
        if plan is None:
            headers = self.bucket.get_json(key)["columns"]
        else:
            columns = [Column.from_json(value) for value in plan["columns"]]
            if job.spreadsheet_safe:
                columns = spreadsheet.neutralise_columns(columns)
            headers = [column.header for column in columns]
        self.bucket.put_json(key, manifest_document(job, headers, files))
        return key

    def _record_plan(self, job: Job, *, products: int, parts: int) -> None:
        """What live progress counts against; every part's count starts again from nothing."""
        try:
            self.jobs.transition(
                job.store_id,
                job.id,
                "started",
                products_planned=products,
                parts_planned=parts,
                part_progress={},
            )
        except TransitionRejected as rejected:
            raise JobNotRunning(f"Job {job.id} is {rejected.job.status}") from rejected

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
                store_id,
                job_id,
                "started",
                started_at=current.started_at or now,
                # What the export holds is fixed here: see export/planner.py in_snapshot.
                snapshot_at=current.snapshot_at or now,
                updated_at=now,
            )
        except TransitionRejected as rejected:
            raise JobNotRunning(f"Job {job_id} is {rejected.job.status}") from rejected

    def _set_cutover(self, job: Job) -> Job:
        """Fix the export's cut-over time and, for since=last-success, the export it continues from
        (the newest successful one with the same filter or none; without one, export everything)."""
        baseline = self.jobs.last_success(job.store_id, filter_text=job.filter) if job.since else None
        changes: dict[str, Any] = {"cutover_at": cutover_time(self.settle_seconds, job.snapshot_at)}
        if baseline is not None:
            changes |= {"since_job_id": baseline.id, "updated_after": baseline.cutover_at}
        try:
            return self.jobs.transition(job.store_id, job.id, "started", **changes)
        except TransitionRejected as rejected:
            raise JobNotRunning(f"Job {job.id} is {rejected.job.status}") from rejected

    def _running_job(self, store_id: str, job_id: str) -> Job:
        job = self.jobs.get(store_id, job_id)
        if job.status != "started":
            raise JobNotRunning(f"Job {job_id} is {job.status}")
        return job


def _shard_span(shards: Sequence[int]) -> str:
    """``[4, 5, 6, 7]`` as "4-7" (a group is consecutive shards), a single shard as itself."""
    ordered = sorted(int(shard) for shard in shards)
    return str(ordered[0]) if len(ordered) == 1 else f"{ordered[0]}-{ordered[-1]}"


def describe_failure(error: str | None, cause: str | None) -> str:
    """A readable one-line message from a Step Functions error name and cause (no stack traces)."""
    text = cause or ""
    if error in TIMEOUT_ERRORS or (error == "Lambda.Unknown" and "timed out" in text):
        limit = re.search(r"timed out after [0-9.]+ seconds", text)
        return "the step ran out of time" + (f" ({limit.group(0)})" if limit else "")
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
