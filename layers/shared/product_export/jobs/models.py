"""The job record and its allowed status transitions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["pending", "started", "success", "failed", "cancelled"]
FINAL_STATUSES: frozenset[str] = frozenset({"success", "failed", "cancelled"})
# Jobs not yet final carry this attribute: the sparse "open-jobs" index lists them for the sweeper.
OPEN_ATTRIBUTE = "open"
OPEN_MARK = "open"

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
    filter: str | None = None
    use_template_slugs: bool = False
    columns: list[str] | None = None  # columns.include of the request, None = every column
    x_request_id: str | None = None
    files: list[PartFile] = Field(default_factory=list)
    products: int | None = None  # products exported, once known
    error_count: int = 0

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
