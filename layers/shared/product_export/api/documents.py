"""JSON:API documents of the jobs API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from product_export.export.progress import progress_document
from product_export.jobs.models import Job
from product_export.notifications.webhooks import Webhook
from product_export.values import format_timestamp


def job_resource(
    job: Job,
    sign: Callable[[str], str],
    *,
    files_expire_at: datetime | None = None,
    expired: bool = False,
) -> dict[str, Any]:
    """The ``pim-job`` resource; ``sign`` turns a part key into a fresh download link. Once the
    parts have expired from the bucket (``expired``) the job lists no links, only that they expired."""
    live = job.status == "success" and not expired
    file_locations = [sign(part.key) for part in job.files] if live else None
    manifest_location = sign(job.manifest_key) if live and job.manifest_key else None
    return {
        "type": "pim-job",
        "id": job.id,
        "attributes": {
            "type": job.type,
            "status": job.status,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "started_at": job.started_at,
            "completed_at": job.completed_at,
        },
        "meta": {
            "file_locations": file_locations,
            "filter": job.filter or "",
            "x_request_id": job.x_request_id,
            # Additions to EP's shape: how much was exported, per part.
            "products": job.products,
            # When the parts leave the bucket (PartRetentionDays), and whether they already have.
            "files_expire_at": format_timestamp(files_expire_at) if files_expire_at else None,
            "expired": expired,
            "spreadsheet_safe": job.spreadsheet_safe,
            "parts": [{"rows": part.rows, "bytes": part.bytes, "sha256": part.sha256} for part in job.files]
            if job.status == "success"
            else None,
            # A signed link to manifest.json (job, filter, columns, per part key, rows, bytes, SHA-256).
            "manifest_location": manifest_location,
            "compression": job.compression,  # "gzip": the parts are .csv.gz; null: plain CSV
            # While the export runs: products and parts planned, and how many are written so far.
            "progress": progress_document(job),
            # Every change up to cutover_at is in the export (set once planned); a delta export
            # (since=last-success) continues from the successful export named in "delta".
            "cutover_at": job.cutover_at,
            "delta": {
                "since": job.since,
                "since_job_id": job.since_job_id,
                "updated_after": job.updated_after,
            }
            if job.since
            else None,
        },
    }


def webhook_resource(webhook: Webhook, *, with_secret: bool) -> dict[str, Any]:
    """The store's ``webhook``; its signing secret only in the answer that created it."""
    attributes = {"url": webhook.url, "created_at": webhook.created_at}
    if with_secret:
        attributes["secret"] = webhook.secret
    return {"type": "webhook", "id": "webhook", "attributes": attributes}


def error_resource(number: str, message: str) -> dict[str, Any]:
    return {"type": "pim-job-error", "id": str(int(number)), "attributes": {"message": message}}
