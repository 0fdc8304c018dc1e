"""``manifest.json``: what a successful export wrote, to check a download against.

It sits beside the parts (``<store_id>/<job_id>/manifest.json``) and names the job, its filter, the
columns every part has, and per part its key, rows, bytes and SHA-256. Sizes and checksums are of
the objects as stored, computed while they streamed to S3: for gzip parts, of the compressed bytes,
so ``sha256sum`` of a downloaded file must print the manifest's value.
"""

from __future__ import annotations

from typing import Any

from product_export.jobs.models import Job, PartFile

MANIFEST_NAME = "manifest.json"
VERSION = 1


def manifest_key(job: Job) -> str:
    return f"{job.store_id}/{job.id}/{MANIFEST_NAME}"


def manifest_document(job: Job, headers: list[str], files: list[PartFile]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "job_id": job.id,
        "store_id": job.store_id,
        "created_at": job.created_at,
        "filter": job.filter or "",
        "use_template_slugs": job.use_template_slugs,
        "compression": job.compression,
        "columns": headers,
        "products": sum(part.rows for part in files),
        "parts": [
            {
                "number": part.number,
                "key": part.key,
                "name": part.key.rsplit("/", 1)[1],
                "rows": part.rows,
                "bytes": part.bytes,
                "sha256": part.sha256,
            }
            for part in files
        ],
    }
