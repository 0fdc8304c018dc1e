"""The job record and its allowed status transitions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["pending", "started", "success", "failed", "cancelled"]
FINAL_STATUSES: frozenset[str] = frozenset({"success", "failed", "cancelled"})
# Jobs not yet final carry this attribute: the sparse "open-jobs" index lists them for the sweeper.
OPEN_ATTRIBUTE = "open"
OPEN_MARK = "open"
# A store's export slots (per-store fairness) live in one item of the jobs table; while it has
# holders it carries OPEN_ATTRIBUTE = SLOTS_MARK, so the sweeper finds it in the same sparse index.
SLOTS_KEY = "slots#export"
SLOTS_MARK = "slots"

# status -> the statuses it may be entered from
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "started": ("pending", "started"),  # "started" again: a retried planner is idempotent
    "success": ("started",),
    "failed": ("pending", "started"),
    "cancelled": ("pending", "started"),
}


class PartFile(BaseModel):
    model_config = ConfigDict(frozen=True)
    number: int
    key: str
    rows: int
    bytes: int
    sha256: str | None = None  # of the object's bytes as uploaded (None for jobs from before manifests)


class PartCount(BaseModel):
    """Live progress of one part: rows handed to its writer so far, and whether its object is complete.

    Each write sets the part's running total (never adds), so a retried part counts once."""

    model_config = ConfigDict(frozen=True)
    rows: int
    done: bool = False


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    store_id: str
    type: Literal["product-export"] = "product-export"
    status: Status = "pending"
    created_at: str
    updated_at: str
    started_at: str | None = None
    completed_at: str | None = None
    # Set when planning begins: the export holds the products created up to this moment (and still
    # there, still matching, when their part is written); later ones belong to a later export.
    snapshot_at: str | None = None
    filter: str | None = None
    use_template_slugs: bool = False
    columns: list[str] | None = None  # columns.include of the request, None = every column
    spreadsheet_safe: bool = False  # cells neutralised against formula injection, UTF-8 BOM
    x_request_id: str | None = None
    files: list[PartFile] = Field(default_factory=list)
    products: int | None = None  # products exported, once known
    error_count: int = 0
    # Delta exports (see export/delta.py): set when the export is planned.
    cutover_at: str | None = None  # every change up to this time is in the export
    since: Literal["last-success"] | None = None  # the request's since parameter
    since_job_id: str | None = None  # the successful export this one continues from
    updated_after: str | None = None  # that export's cutover_at: only later changes are exported
    # Compressed parts (export/compression.py): None = plain CSV.
    compression: Literal["gzip"] | None = None
    # Live progress (export/progress.py): set by the planner, then per part by its writer.
    products_planned: int | None = None
    parts_planned: int | None = None
    part_progress: dict[str, PartCount] | None = None  # part number -> its count
    manifest_key: str | None = None  # the manifest.json of a successful export (export/manifest.py)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Job:
        fields = {key: value for key, value in item.items() if key not in ("pk", "sk", OPEN_ATTRIBUTE)}
        return cls.model_validate(fields)

    def to_item(self) -> dict[str, Any]:
        item = self.model_dump(exclude_none=True)
        item["pk"] = self.store_id
        item["sk"] = job_key(self.id)
        if self.status not in FINAL_STATUSES:
            item[OPEN_ATTRIBUTE] = OPEN_MARK
        return item


def job_key(job_id: str) -> str:
    return f"job#{job_id}"


def error_key(job_id: str, number: int) -> str:
    return f"error#{job_id}#{number:06d}"
