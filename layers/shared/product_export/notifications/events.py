"""The completion event: ``source`` product-export, a ``detail-type`` per final status, and as
detail the job document as ``GET /pcm/jobs/{id}`` shows it, without download links, plus the store.

Download links are signed for whoever reads the job and expire; an event outlives them and may be
read by any consumer of the bus, so ``file_locations`` (and any other signed link) is null here.
"""

from __future__ import annotations

import json
from typing import Any

from product_export.adapters.links import PartLinks
from product_export.api.documents import job_resource
from product_export.jobs.models import Job

SOURCE = "product-export"
DETAIL_TYPES = {
    "success": "Export Job Succeeded",
    "failed": "Export Job Failed",
    "cancelled": "Export Job Cancelled",
}
# PutEvents takes entries up to 256 KB; a larger detail drops its per-part lists.
MAX_DETAIL_BYTES = 240_000
_LINK = "\x00signed link\x00"


def detail_type(status: str) -> str:
    return DETAIL_TYPES[status]


class _NoLinks:
    def sign(self, key: str, ttl_seconds: int) -> str:
        return _LINK


def completion_detail(job: Job, *, retention_days: int) -> dict[str, Any]:
    """``{"store_id": ..., "data": <pim-job resource without links>}``; ``retention_days`` as the
    jobs API has it (PartRetentionDays), for the files' expiry time."""
    files = PartLinks(_NoLinks(), ttl_seconds=1, retention_days=retention_days).of(job)
    document = job_resource(
        job, files.sign, files_expire_at=files.expires_at, expired=files.expired
    ).model_dump(mode="json")
    resource = _without_links(document)
    detail = {"store_id": job.store_id, "data": resource}
    if len(json.dumps(detail, separators=(",", ":"))) > MAX_DETAIL_BYTES:
        meta = resource["meta"]
        resource["meta"] = {key: None if isinstance(value, list) else value for key, value in meta.items()}
        resource["meta"]["truncated"] = True  # GET the job for the per-part figures
    return detail


def _without_links(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_links(inner) for key, inner in value.items()}
    if isinstance(value, list):
        if value and all(inner == _LINK for inner in value):
            return None
        return [_without_links(inner) for inner in value]
    return None if value == _LINK else value
