"""The JSON:API documents the API answers with, as typed models.

The handlers build every answer from these models (``answer``), and the OpenAPI document
(``api/openapi.py``) takes its response schemas from the same models, so a field added to an
answer is a field added to the document. Field order is the order of the JSON, which EP clients
and the committed examples know; ``None`` is written as ``null`` unless a field says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from product_export.api.http import document
from product_export.catalogue.models import ProductAttributes
from product_export.export.compression import Compression
from product_export.export.progress import progress_document
from product_export.jobs.models import Job, Status
from product_export.notifications.webhooks import Webhook
from product_export.values import format_timestamp


class Answer(BaseModel):
    """An answer's model: built by the code, so no field of it is unknown (``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid")


def answer(model: Answer, status: int = 200) -> Response[str]:
    return document(model.model_dump(mode="json"), status)


# --- lists ----------------------------------------------------------------------------------------
class Results(Answer):
    total: int = Field(description="items in all pages")


class ListMeta(Answer):
    results: Results


def list_meta(total: int) -> ListMeta:
    return ListMeta(results=Results(total=total))


# --- jobs -----------------------------------------------------------------------------------------
class JobAttributes(Answer):
    type: Literal["product-export"]
    status: Status
    created_at: str
    updated_at: str
    started_at: str | None
    completed_at: str | None


class JobPart(Answer):
    rows: int = Field(description="products in the part")
    bytes: int = Field(description="size of the part's object, as stored (compressed when gzip)")
    sha256: str | None = Field(description="hex SHA-256 of the object's bytes (null for old jobs)")


class JobProgress(Answer):
    products_planned: int
    products_written: int
    parts_planned: int | None
    parts_done: int


class JobDelta(Answer):
    since: Literal["last-success"]
    since_job_id: str | None = Field(description="the successful export this one continues from")
    updated_after: str | None = Field(description="that export's cutover_at: only later changes are in")


class JobMeta(Answer):
    file_locations: list[str] | None = Field(
        description="signed download links of the parts, once the job is success (null once expired)"
    )
    filter: str
    x_request_id: str | None
    # Additions to EP's shape (clients ignore them).
    products: int | None = Field(description="products exported, once known")
    files_expire_at: str | None = Field(description="when the parts leave the bucket (PartRetentionDays)")
    expired: bool = Field(description="the parts have left the bucket: no links")
    spreadsheet_safe: bool = Field(description="cells neutralised against formula injection, UTF-8 BOM")
    parts: list[JobPart] | None = Field(description="per part, in file_locations order, once success")
    manifest_location: str | None = Field(
        description="signed link to manifest.json (job, filter, columns, per part key, rows, bytes, SHA-256)"
    )
    compression: Compression | None = Field(description="gzip: the parts are .csv.gz; null: plain CSV")
    progress: JobProgress | None = Field(description="products and parts planned and written so far")
    cutover_at: str | None = Field(description="every change up to this time is in the export")
    delta: JobDelta | None = Field(description="a since=last-success export: what it continues from")


class JobResource(Answer):
    type: Literal["pim-job"]
    id: str
    attributes: JobAttributes
    meta: JobMeta


class JobAnswer(Answer):
    data: JobResource


class JobList(Answer):
    data: list[JobResource]
    meta: ListMeta


def job_resource(
    job: Job,
    sign: Callable[[str], str],
    *,
    files_expire_at: datetime | None = None,
    expired: bool = False,
) -> JobResource:
    """The ``pim-job`` resource; ``sign`` turns a part key into a fresh download link. Once the
    parts have expired from the bucket (``expired``) the job lists no links, only that they expired."""
    live = job.status == "success" and not expired
    progress = progress_document(job)
    return JobResource(
        type="pim-job",
        id=job.id,
        attributes=JobAttributes.model_validate(job.model_dump(include=set(JobAttributes.model_fields))),
        meta=JobMeta(
            file_locations=[sign(part.key) for part in job.files] if live else None,
            filter=job.filter or "",
            x_request_id=job.x_request_id,
            products=job.products,
            files_expire_at=format_timestamp(files_expire_at) if files_expire_at else None,
            expired=expired,
            spreadsheet_safe=job.spreadsheet_safe,
            parts=[JobPart(rows=part.rows, bytes=part.bytes, sha256=part.sha256) for part in job.files]
            if job.status == "success"
            else None,
            manifest_location=sign(job.manifest_key) if live and job.manifest_key else None,
            compression=job.compression,
            # The domain's progress figures, checked against the model: a figure added there and
            # not here fails every job answer's test rather than reach clients undocumented.
            progress=JobProgress.model_validate(progress) if progress is not None else None,
            cutover_at=job.cutover_at,
            delta=JobDelta(since=job.since, since_job_id=job.since_job_id, updated_after=job.updated_after)
            if job.since
            else None,
        ),
    )


class JobErrorAttributes(Answer):
    message: str


class JobErrorResource(Answer):
    type: Literal["pim-job-error"]
    id: str
    attributes: JobErrorAttributes


class JobErrorList(Answer):
    data: list[JobErrorResource]
    meta: ListMeta


def error_resource(number: str, message: str) -> JobErrorResource:
    return JobErrorResource(
        type="pim-job-error", id=str(int(number)), attributes=JobErrorAttributes(message=message)
    )


# --- webhook --------------------------------------------------------------------------------------
def _absent_not_null(schema: JsonDict) -> None:
    """A field left out when None: its schema is the value's alone, with no ``null`` default."""
    schema.pop("default", None)


class WebhookAttributes(Answer):
    url: str
    created_at: str
    secret: str | SkipJsonSchema[None] = Field(
        None,
        description="the HMAC-SHA256 signing secret, only in the answer of the PUT that made it",
        exclude_if=lambda secret: secret is None,
        json_schema_extra=_absent_not_null,
    )


class WebhookResource(Answer):
    type: Literal["webhook"]
    id: Literal["webhook"]
    attributes: WebhookAttributes


class WebhookAnswer(Answer):
    data: WebhookResource


def webhook_resource(webhook: Webhook, *, with_secret: bool) -> WebhookResource:
    """The store's ``webhook``; its signing secret only in the answer that created it."""
    attributes = WebhookAttributes(
        url=webhook.url, created_at=webhook.created_at, secret=webhook.secret if with_secret else None
    )
    return WebhookResource(type="webhook", id="webhook", attributes=attributes)


# --- products -------------------------------------------------------------------------------------
# The product resource is built by catalogue.products.to_resource from the stored item; these
# models describe it (attributes are the request's own model) and a test checks that every
# attribute of a full product round-trips through them unchanged.
class ResourceIdentifier(Answer):
    type: str
    id: str


class ToOneRelationship(Answer):
    data: ResourceIdentifier | None


class ProductRelationships(Answer):
    main_image: ToOneRelationship | None = None


class ProductMeta(Answer):
    created_at: str
    updated_at: str
    product_types: list[str]
    owner: str


class ProductResource(Answer):
    type: Literal["product"]
    id: str
    attributes: ProductAttributes = Field(
        description="as stored; admin_attributes only for administrator tokens"
    )
    meta: ProductMeta
    relationships: ProductRelationships | None = None


class ProductAnswer(Answer):
    data: ProductResource


class ListLinks(Answer):
    current: str
    first: str
    last: str
    prev: str | None
    next: str | None


class PageMeta(Answer):
    limit: int
    offset: int
    current: int = Field(description="this page's number, from 1")
    total: int = Field(description="pages")


class ProductListMeta(Answer):
    page: PageMeta
    results: Results


class ProductList(Answer):
    data: list[ProductResource]
    links: ListLinks
    meta: ProductListMeta


def product_page(base: str, offset: int, limit: int, total: int) -> dict[str, Any]:
    """``links`` and ``meta`` of a page of products (``data`` is the resources, to_resource's)."""
    last = max((total - 1) // limit * limit, 0)

    def at(page_offset: int) -> str:
        return f"{base}?page[offset]={page_offset}&page[limit]={limit}"

    links = ListLinks(
        current=at(offset),
        first=at(0),
        last=at(last),
        prev=at(max(offset - limit, 0)) if offset > 0 else None,
        next=at(offset + limit) if offset + limit < total else None,
    )
    meta = ProductListMeta(
        page=PageMeta(
            limit=limit, offset=offset, current=offset // limit + 1, total=(total + limit - 1) // limit
        ),
        results=Results(total=total),
    )
    return {"links": links.model_dump(mode="json"), "meta": meta.model_dump(mode="json")}
