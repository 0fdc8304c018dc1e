"""What the part-writer benchmarks feed the production code: products, DynamoDB pages, S3, a job.

``write_part`` runs as the WritePart Lambda runs it (``ExportService.write_part``: the real
``ProductsTable``, boto3 client, before-parse hook, decoding, filter, CSV writer); only the network
is replaced. Both boto3 clients get a ``before-send`` handler that answers like the service would:

- ``QueryServer`` answers DynamoDB ``Query`` with the JSON bytes DynamoDB sends (compact UTF-8,
  pages of up to 1 MB of item data before projection, ``LastEvaluatedKey``, ``x-amz-crc32``),
  applying the request's key condition, ``ProjectionExpression`` and the simple comparisons the
  bench's filter and the job's snapshot compile to (``FilterExpression``). Bodies are either built
  once and kept (``keep_pages=True``, the throughput bench: building them is the service's work,
  not the writer's) or built for each request and dropped (the memory bench: nothing grows with
  the part).
- ``UploadServer`` answers S3 multipart uploads and only counts the bytes of each part.

The job and the part's plan (its header) come from two small stand-ins, ``BenchJobs`` and
``BenchBucket``.
"""

from __future__ import annotations

import copy
import io
import json
import operator
import os
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# boto3 needs a region and credentials; no request leaves the process (the servers answer them).
for _name, _value in (
    ("AWS_DEFAULT_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "bench"),
    ("AWS_SECRET_ACCESS_KEY", "bench"),
):
    os.environ.setdefault(_name, _value)
os.environ.pop("AWS_ENDPOINT_URL", None)

from botocore.awsrequest import AWSResponse  # noqa: E402

from product_export.adapters import aws  # noqa: E402
from product_export.adapters.dynamo_json import encode_item  # noqa: E402
from product_export.adapters.parts_bucket import MultipartUpload  # noqa: E402
from product_export.adapters.products_table import ProductsTable  # noqa: E402
from product_export.catalogue.models import ProductData, column_index  # noqa: E402
from product_export.catalogue.products import new_item  # noqa: E402
from product_export.export.columns import Column, build_columns  # noqa: E402
from product_export.export.service import ExportService, plan_key  # noqa: E402
from product_export.jobs.models import Job  # noqa: E402
from product_export.values import now_timestamp  # noqa: E402

STORE = "bench-store"
JOB_ID = "0190b0b0-0000-7000-8000-000000000001"
TABLE = "bench-products"
BUCKET = "bench-parts"
SHARD = 3
PAGE_BYTES = 1 << 20  # DynamoDB stops a page after 1 MB of items read
FILTER = "eq(status,live)"

_DESCRIPTION = (
    "Light, grippy shoe for wet trails, with a rock plate and a gusseted tongue. Rubber outsole "
    "with 4 mm lugs; recycled mesh upper. "
)


def _attributes(variant: int) -> dict[str, Any]:
    """Product attributes of about 2 KB stored, with what CSV quoting and decoding meet in practice:
    quotes, commas, a newline, non-ASCII text, numbers, booleans and nulls in template fields."""
    attributes: dict[str, Any] = {
        "name": 'Trail shoe, "Summit" edition with a longer name',
        "commodity_type": "physical",
        "status": "live",
        "description": (_DESCRIPTION * 4)[:480],
        "upc_ean": "0000000000000",
        "mpn": "TS-0",
        "tags": ["shoes", "trail", f"size{variant % 12}"],
        "extensions": {
            "products(shoes)": {
                "size": 42 + variant % 5,
                "colour": "ocean blue",
                "waterproof": variant % 2 == 0,
                "weight_g": 312.5,
                "drop_mm": 6,
                "lugs": "4 mm",
            }
        },
        "shopper_attributes": {"fit": "narrow", "terrain": "mixed"},
        "admin_attributes": {"cost": "38.20", "supplier": "Acme, Inc.", "note": "reorder at 20"},
    }
    if variant % 4 == 1:
        attributes["name"] = "Wanderschuh Größe 42 \u2013 wasserdicht ✓ 登山靴"
        attributes["description"] = ("Für nasse Pfade.\nMit Steinschutzplatte. " * 10)[:460]
    if variant % 4 == 2:
        attributes["extensions"]["products(care)"] = {"wax": "beeswax", "interval_days": 30, "spray": None}
        attributes["admin_attributes"]["note"] = "=SUM(A1:A2) is text here"
    return attributes


def product_id(number: int) -> str:
    """Ids that sort as the products are numbered (DynamoDB pages a shard in id order)."""
    return f"{number:08x}-5eed-4a11-8b0b-{number:012x}"


class Catalogue:
    """``count`` products of one store in one shard, as the table stores them (typed items).

    A few templates are built with the production ``new_item``; each product is a copy with its own
    id, sku, slug, name and reference, so building 200,000 of them on the fly stays quick.
    """

    VARIANTS = 8

    def __init__(self, count: int) -> None:
        self.count = count
        self.templates = []
        for variant in range(self.VARIANTS):
            data = ProductData.model_validate({"type": "product", "attributes": _attributes(variant)})
            self.templates.append(new_item(STORE, data))

    def item(self, number: int) -> dict[str, Any]:
        item = copy.deepcopy(self.templates[number % self.VARIANTS])
        identifier = product_id(number)
        item.update(
            pk=f"{STORE}#{SHARD:02d}",
            sk=identifier,
            id=identifier,
            sku=f"SKU-{number:07d}",
            slug=f"trail-shoe-{number}",
            external_ref=f"erp-{number:07d}",
            upc_ean=f"{number:013d}",
            mpn=f"TS-{number}",
        )
        item["name"] = f"{item['name']} #{number}"
        item["columns"] = column_index(item)
        return item

    def typed(self, number: int) -> dict[str, Any]:
        return encode_item(self.item(number))

    def columns(self) -> list[Column]:
        entries = {entry for template in self.templates for entry in column_index(template)}
        return build_columns(entries, store_id=STORE, use_template_slugs=False, include=None)

    def part(self) -> dict[str, Any]:
        """The part descriptor the planner would cut for the whole catalogue."""
        return {
            "number": 1,
            "products": self.count,
            "ranges": [{"shard": SHARD, "first": product_id(0), "last": product_id(self.count - 1)}],
        }


class _Raw(io.BytesIO):
    """The raw HTTP body botocore reads from (``stream`` as urllib3's response offers it)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def _response(request: Any, status: int, headers: dict[str, str], body: bytes) -> AWSResponse:
    return AWSResponse(request.url, status, headers, _Raw(body))


_COMPARISON = re.compile(r"^\(?(#\w+) (=|<=|<|>=|>) (:\w+)\)?$")
_OPERATORS = {"=": operator.eq, "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


class QueryServer:
    """DynamoDB's side of ``Query`` for the bench catalogue (see the module docstring)."""

    def __init__(self, catalogue: Catalogue, *, keep_pages: bool) -> None:
        self.catalogue = catalogue
        self.keep_pages = keep_pages
        self.pages: dict[tuple[Any, ...], tuple[bytes, str]] = {}  # body, x-amz-crc32
        self.requests = 0
        self.body_bytes = 0

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        if not target.endswith(".Query"):
            raise AssertionError(f"the bench DynamoDB answers Query only, not {target}")
        params = json.loads(request.body)
        names = params.get("ExpressionAttributeNames", {})
        values = params.get("ExpressionAttributeValues", {})
        projection = params.get("ProjectionExpression")
        attributes = (
            tuple(sorted(names.get(p.strip(), p.strip()) for p in projection.split(",")))
            if projection
            else None
        )
        conditions = self._conditions(params.get("FilterExpression"), names, values)
        start = params.get("ExclusiveStartKey")
        first = int(start["sk"]["S"][:8], 16) + 1 if start else 0
        if values.get(":pk", {}).get("S") != f"{STORE}#{SHARD:02d}":
            raise AssertionError(f"unexpected partition {values.get(':pk')}")
        key = (first, attributes, tuple(conditions))
        page = self.pages.get(key)
        if page is None:
            body = self._page(first, attributes, conditions)
            # The service's checksum of its answer, kept with it (botocore checks it every time).
            page = body, str(zlib.crc32(body) & 0xFFFFFFFF)
            if self.keep_pages:
                self.pages[key] = page
        body, crc32 = page
        self.requests += 1
        self.body_bytes += len(body)
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amz-crc32": crc32}
        return _response(request, 200, headers, body)

    @staticmethod
    def _conditions(
        expression: str | None, names: dict[str, str], values: dict[str, Any]
    ) -> list[tuple[str, str, str]]:
        if not expression:
            return []
        conditions = []
        for term in expression.split(" AND "):
            match = _COMPARISON.match(term.strip())
            if not match:
                raise AssertionError(f"the bench DynamoDB only evaluates comparisons, not {expression!r}")
            name, comparison, value = match.groups()
            conditions.append((names[name], comparison, values[value]["S"]))
        return conditions

    def _page(
        self, first: int, attributes: tuple[str, ...] | None, conditions: list[tuple[str, str, str]]
    ) -> bytes:
        items: list[dict[str, Any]] = []
        read = 0
        number = first
        while number < self.catalogue.count and read < PAGE_BYTES:
            typed = self.catalogue.typed(number)
            read += len(json.dumps(typed, ensure_ascii=False, separators=(",", ":")).encode())
            number += 1
            if not all(
                "S" in typed.get(name, {}) and _OPERATORS[comparison](typed[name]["S"], value)
                for name, comparison, value in conditions
            ):
                continue
            if attributes is not None:
                typed = {name: typed[name] for name in attributes if name in typed}
            items.append(typed)
        page: dict[str, Any] = {"Count": len(items), "Items": items}
        if number < self.catalogue.count:
            last = product_id(number - 1)
            page["LastEvaluatedKey"] = {"pk": {"S": f"{STORE}#{SHARD:02d}"}, "sk": {"S": last}}
        page["ScannedCount"] = number - first
        return json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()


class UploadServer:
    """S3's side of a multipart upload: accepts every part and only counts its bytes."""

    def __init__(self) -> None:
        self.parts = 0
        self.bytes = 0

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse:
        url = request.url
        if request.method == "POST" and url.endswith("?uploads"):
            body = (
                b'<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult>'
                b"<Bucket>bench-parts</Bucket><Key>part.csv</Key><UploadId>bench-upload</UploadId>"
                b"</InitiateMultipartUploadResult>"
            )
            return _response(request, 200, {}, body)
        if request.method == "PUT" and "partNumber=" in url:
            data = request.body
            size = len(data) if isinstance(data, bytes | bytearray) else len(data.read())
            self.parts += 1
            self.bytes += size
            return _response(request, 200, {"ETag": f'"etag-{self.parts}"'}, b"")
        if request.method == "POST" and "uploadId=" in url:
            body = (
                b'<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult>'
                b'<Bucket>bench-parts</Bucket><Key>part.csv</Key><ETag>"done"</ETag>'
                b"</CompleteMultipartUploadResult>"
            )
            return _response(request, 200, {}, body)
        if request.method == "DELETE" and "uploadId=" in url:
            return _response(request, 204, {}, b"")
        raise AssertionError(f"the bench S3 does not answer {request.method} {url}")


class CountingUpload:
    """The uploader reduced to a sink that only counts bytes (what the throughput bench's writer
    hands its CSV to; the uploader's own work, SHA-256 and S3 requests, is left out)."""

    sha256 = ""

    def __init__(self) -> None:
        self.size = 0

    def __enter__(self) -> CountingUpload:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, data: bytes) -> None:
        self.size += len(data)


class CapturingUpload(CountingUpload):
    """A counting sink that also keeps the bytes (to check the output once, not while timing)."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        super().write(data)
        self.chunks.append(bytes(data))

    def getvalue(self) -> bytes:
        return b"".join(self.chunks)


class BenchJobs:
    """The jobs table as write_part reads it: the job is ``started``, planned now (its snapshot
    holds every product built before, as the planner's would)."""

    def __init__(self) -> None:
        now = now_timestamp()
        self.job = Job(
            id=JOB_ID,
            store_id=STORE,
            status="started",
            created_at=now,
            updated_at=now,
            started_at=now,
            snapshot_at=now,
            filter=FILTER,
        )

    def get(self, store_id: str, job_id: str) -> Job:
        assert (store_id, job_id) == (STORE, JOB_ID)
        return self.job


class BenchProgress:
    """The job's progress record (as JobProgressTable): every write accepted, counted."""

    def __init__(self) -> None:
        self.records = 0

    def record_part(self, store_id: str, job_id: str, number: int, rows: int, *, done: bool) -> bool:
        self.records += 1
        return True


class BenchBucket:
    """The parts bucket: the plan holds the header; uploads go to a counting sink or, with
    ``multipart=True``, through the production MultipartUpload to ``UploadServer``."""

    def __init__(self, columns: list[Column], *, multipart: bool) -> None:
        self.plan = {"columns": [column.to_json() for column in columns]}
        self.multipart = multipart
        self.capture = False
        self.last_upload: Any = None

    def get_json(self, key: str) -> Any:
        assert key == plan_key(BenchJobs().job)
        return self.plan

    def upload(
        self, key: str, *, content_type: str = "text/csv; charset=utf-8", compression: str | None = None
    ) -> Any:
        if self.multipart:
            self.last_upload = MultipartUpload(
                BUCKET, key, content_type=content_type, compression=compression
            )
        else:
            self.last_upload = CapturingUpload() if self.capture else CountingUpload()
        return self.last_upload


@contextmanager
def served(catalogue: Catalogue, *, keep_pages: bool) -> Iterator[tuple[QueryServer, UploadServer]]:
    """Answer the production boto3 clients' requests in-process for the duration."""
    aws.client.cache_clear()
    aws.raw_items_dynamodb.cache_clear()
    queries, uploads = QueryServer(catalogue, keep_pages=keep_pages), UploadServer()
    reader = aws.raw_items_dynamodb()
    s3 = aws.client("s3")
    reader.meta.events.register_first("before-send.dynamodb", queries)
    s3.meta.events.register_first("before-send.s3", uploads)
    try:
        yield queries, uploads
    finally:
        reader.meta.events.unregister("before-send.dynamodb", queries)
        s3.meta.events.unregister("before-send.s3", uploads)


def export_service(catalogue: Catalogue, *, multipart: bool) -> tuple[ExportService, BenchBucket]:
    bucket = BenchBucket(catalogue.columns(), multipart=multipart)
    # As functions/write_part/app.py builds it, but PartSize = the catalogue: the whole catalogue
    # is one part (one file, no overflow file).
    service = ExportService(
        jobs=BenchJobs(),  # type: ignore[arg-type]
        products=ProductsTable(TABLE),
        bucket=bucket,  # type: ignore[arg-type]
        part_size=catalogue.count,
        progress=BenchProgress(),
        progress_seconds=5,
    )
    return service, bucket


def write_part(service: ExportService, catalogue: Catalogue) -> dict[str, Any]:
    """One run of the production WritePart step over the whole catalogue."""
    return service.write_part(STORE, JOB_ID, catalogue.part())
