"""JSON:API documents of the jobs API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from product_export.jobs.models import Job


def job_resource(job: Job, sign: Callable[[str], str]) -> dict[str, Any]:
    """The ``pim-job`` resource; ``sign`` turns a part key into a fresh download link."""
    file_locations = [sign(part.key) for part in job.files] if job.status == "success" else None
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
            "parts": [{"rows": part.rows, "bytes": part.bytes} for part in job.files]
            if job.status == "success"
            else None,
        },
    }


def error_resource(number: str, message: str) -> dict[str, Any]:
    return {"type": "pim-job-error", "id": str(int(number)), "attributes": {"message": message}}
