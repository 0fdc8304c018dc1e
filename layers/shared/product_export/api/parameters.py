"""The query parameters and headers the API reads, each declared once.

A declaration is both how the handlers read the parameter (``read``: its limits enforced, a clear
400 naming it otherwise) and how the OpenAPI document describes it (``openapi``), so the two cannot
disagree. Which operation reads which parameter is the route table's (``api/openapi.py``);
``tests/integration/test_openapi_parameters.py`` records what each handler really reads and fails
when that differs from the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, get_args

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from product_export.errors import BadRequest
from product_export.export import compression, spreadsheet
from product_export.export.delta import SINCE_LAST_SUCCESS
from product_export.export.idempotency import _KEY as IDEMPOTENCY_KEY_PATTERN
from product_export.export.idempotency import HEADER as IDEMPOTENCY_HEADER
from product_export.filters import FIELD_OPERATORS, MAX_FILTER_BYTES, MAX_FILTERS, OPERATORS

MAX_PAGE_LIMIT = 100
DEFAULT_PAGE_LIMIT = 25
MAX_PAGE_OFFSET = 10_000_000
_DIGITS = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    location: Literal["query", "header"] = "query"
    # ``?name=`` means the same as leaving the parameter out (OpenAPI's allowEmptyValue).
    allow_empty: bool = False

    def raw(self, app: APIGatewayRestResolver) -> str | None:
        event = app.current_event
        if self.location == "header":
            return event.headers.get(self.name)  # case-insensitive, as HTTP header names are
        # API Gateway keeps only the last of repeated values in queryStringParameters; a parameter
        # given twice is ambiguous, so it is refused rather than read as its last value.
        if len((event.multi_value_query_string_parameters or {}).get(self.name) or ()) > 1:
            raise BadRequest(f"{self.name} is given more than once", source=self.name)
        value = event.get_query_string_value(self.name)
        return None if value == "" and self.allow_empty else value

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI Parameter Object."""
        return {
            "name": self.name,
            "in": self.location,
            "required": False,
            "description": self.description,
            **({"allowEmptyValue": True} if self.allow_empty else {}),
            "schema": self.schema(),
        }


@dataclass(frozen=True)
class Text(Parameter):
    """A string passed on as it is: the domain function it is given to validates it (a 400)."""

    enum: tuple[str, ...] = ()
    max_length: int | None = None
    pattern: str | None = None
    example: str | None = None

    def read(self, app: APIGatewayRestResolver) -> str | None:
        return self.raw(app)

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        return schema

    def openapi(self) -> dict[str, Any]:
        return super().openapi() | ({"example": self.example} if self.example else {})


@dataclass(frozen=True)
class Integer(Parameter):
    low: int = 0
    high: int = 0
    default: int = 0

    def read(self, app: APIGatewayRestResolver) -> int:
        raw = self.raw(app)
        if raw is None:
            return self.default
        # An empty value is no integer (EP's SDK leaves the parameter out instead).
        # ASCII digits only: str.isdigit() also accepts '²' or '٣', which int() refuses or reads.
        if not _DIGITS.fullmatch(raw) or not self.low <= int(raw) <= self.high:
            raise BadRequest(
                f"{self.name} must be an integer from {self.low} to {self.high}", source=self.name
            )
        return int(raw)

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.low, "maximum": self.high, "default": self.default}


@dataclass(frozen=True)
class Boolean(Parameter):
    """``true`` or ``false`` in any case; left out or empty is false."""

    allow_empty: bool = True

    def read(self, app: APIGatewayRestResolver) -> bool:
        raw = self.raw(app)
        if raw is None:
            return False
        if raw.lower() not in ("true", "false"):
            raise BadRequest(f"{self.name} must be true or false", source=self.name)
        return raw.lower() == "true"

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean", "default": False}


def _filter_description() -> str:
    fields = ", ".join(f"{name} ({', '.join(sorted(ops))})" for name, ops in sorted(FIELD_OPERATORS.items()))
    return (
        f"Filter expression: operators {', '.join(OPERATORS)}; `:` for AND, `(a|b)` for OR; values "
        f"quoted with `'` or `\"` and `\\` escapes. At most {MAX_FILTERS} comparisons and "
        f"{MAX_FILTER_BYTES} bytes. Fields and their operators: {fields}; also "
        "`extensions.<template>.<field>`, `shopper_attributes.<key>` and `admin_attributes.<key>` "
        "(eq, is_null). Example: `eq(status,live):like(sku,SHOE-*)`. A filter that does not parse "
        "is a 400 naming the problem."
    )


FILTER = Text("filter", _filter_description(), max_length=MAX_FILTER_BYTES, example="eq(status,live)")
PAGE_OFFSET = Integer("page[offset]", "Items to skip.", low=0, high=MAX_PAGE_OFFSET, default=0)
PAGE_LIMIT = Integer(
    "page[limit]",
    f"Items per page, at most {MAX_PAGE_LIMIT}.",
    low=1,
    high=MAX_PAGE_LIMIT,
    default=DEFAULT_PAGE_LIMIT,
)
USE_TEMPLATE_SLUGS = Boolean(
    "useTemplateSlugs", "Name template columns by the template's slug instead of its id."
)
SINCE = Text(
    "since",
    f"`{SINCE_LAST_SUCCESS}`: export only the products changed since the store's last successful "
    "export with the same filter (all of them when there is none); the job records its cut-over "
    "time, so consecutive delta exports miss nothing and repeat nothing.",
    enum=(SINCE_LAST_SUCCESS,),
    allow_empty=True,
)
SPREADSHEET_SAFE = Boolean(
    spreadsheet.PARAMETER,
    "Neutralise cells a spreadsheet would run as a formula (a leading `'`) and start each file "
    "with a UTF-8 byte order mark. Off by default: parts are byte-exact for re-import.",
)
COMPRESSION = Text(
    compression.PARAMETER,
    "`gzip` writes `.csv.gz` parts; left out, parts are plain CSV.",
    enum=get_args(compression.Compression),
    allow_empty=True,
)
IDEMPOTENCY_KEY = Text(
    IDEMPOTENCY_HEADER,
    "The same key and request within 24 hours return the same job; the same key with another "
    "request is a 422. Printable ASCII without spaces.",
    location="header",
    pattern=IDEMPOTENCY_KEY_PATTERN.pattern,
)
PAGE = (PAGE_OFFSET, PAGE_LIMIT)


def page_of(app: APIGatewayRestResolver) -> tuple[int, int]:
    """``page[offset]`` and ``page[limit]`` (default 25, at most 100)."""
    return PAGE_OFFSET.read(app), PAGE_LIMIT.read(app)
