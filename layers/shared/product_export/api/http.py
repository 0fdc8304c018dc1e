"""The REST resolver every API function uses: JSON:API errors, caller identity, paging, bodies."""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from product_export.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)
from product_export.filters import FilterError

JSON = "application/json"
ACCEPTED_BODY_TYPES = ("application/json", "application/vnd.api+json")
# Request bodies above this are refused before parsing (a product is stored in one DynamoDB item
# of at most 400 KB; API Gateway's own limit is 10 MB).
MAX_BODY_BYTES = 512 * 1024
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

logger = Logger()


class UnsupportedMediaType(DomainError):
    title = "Unsupported Media Type"


ERROR_STATUS: dict[type[DomainError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unprocessable: 422,
    UnsupportedMediaType: 415,
    PayloadTooLarge: 413,
    TooManyRequests: 429,
}


class ErrorSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pointer: str | None = Field(default=None, description="JSON pointer into the request body")
    parameter: str | None = Field(default=None, description="the query parameter or header at fault")


class Error(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(description="the HTTP status, as a string")
    title: str
    detail: str | None = None
    source: ErrorSource | None = None


class ErrorDocument(BaseModel):
    """A JSON:API error document: every 4xx (and 5xx) answer of the API."""

    model_config = ConfigDict(extra="forbid")
    errors: list[Error] = Field(min_length=1)


def error_response(
    status: int, title: str, detail: str | None = None, source: str | None = None
) -> Response[str]:
    where = None
    if source:
        where = ErrorSource(pointer=source) if source.startswith("/") else ErrorSource(parameter=source)
    error = Error(status=str(status), title=title, detail=detail or None, source=where)
    body = ErrorDocument(errors=[error]).model_dump(mode="json", exclude_none=True)
    return Response(status_code=status, content_type=JSON, body=json.dumps(body))


def document(body: dict[str, Any], status: int = 200) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body))


def create_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    @app.exception_handler(DomainError)  # type: ignore[untyped-decorator]
    def _domain(error: DomainError) -> Response[str]:
        status = ERROR_STATUS.get(type(error), 400)
        if isinstance(error, Forbidden):
            return error_response(403, "Forbidden")
        response = error_response(status, error.title, error.detail, error.source)
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.exception_handler(FilterError)  # type: ignore[untyped-decorator]
    def _filter(error: FilterError) -> Response[str]:
        return error_response(
            400, "Bad Request", f"Could not parse the supplied filter: {error.detail}", "filter"
        )

    @app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]
    def _invalid(error: ValidationError) -> Response[str]:
        first = error.errors()[0]
        pointer = "/" + "/".join(str(part) for part in first["loc"])
        return error_response(422, "Unprocessable Entity", f"{pointer}: {first['msg']}", pointer)

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return error_response(404, "Not Found", "No such route")

    return app


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the authorizer established it."""

    store_id: str
    grant: str
    client_id: str

    @property
    def is_admin(self) -> bool:
        return self.grant == "client_credentials"


def caller_of(app: APIGatewayRestResolver) -> Caller:
    context = app.current_event.request_context.authorizer.raw_event or {}
    store_id, grant = context.get("store_id"), context.get("grant")
    if not store_id or not grant:
        raise Unauthorized("Unable to validate access token")
    return Caller(store_id=store_id, grant=grant, client_id=context.get("client_id", ""))


def admin_of(app: APIGatewayRestResolver) -> Caller:
    """The caller, who must hold an administrator (client_credentials) token: shoppers get 403."""
    caller = caller_of(app)
    if not caller.is_admin:
        raise Forbidden("Forbidden")
    return caller


def body_text(app: APIGatewayRestResolver) -> str | None:
    """The request body as text; a 400 when it is not UTF-8 (API Gateway then passes it base64)."""
    event = app.current_event
    if not event.body:
        return None
    # base64 bodies decode to 3/4 of their length; either way nothing larger is decoded or parsed.
    size = len(event.body) * 3 // 4 if event.is_base64_encoded else len(event.body.encode())
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body may be at most {MAX_BODY_BYTES} bytes; this one has {size}")
    try:
        return event.decoded_body
    except (UnicodeDecodeError, binascii.Error):
        raise BadRequest("The request body is not valid UTF-8") from None


def path_id(value: str, what: str) -> str:
    """A product or job id from the path; ids are UUIDs the service assigned, anything else is a 404
    answered without a lookup (DynamoDB refuses keys over 1 KB, and no such id was ever stored)."""
    if not _UUID.fullmatch(value):
        raise NotFound(f"{what} {value[:100]} not found")
    return value


def json_body(app: APIGatewayRestResolver, *, required: bool = True) -> Any:
    """The parsed JSON body; a clear 400 for a malformed one, 415 for another media type."""
    event = app.current_event
    raw = body_text(app)
    if not raw or not raw.strip():
        if required:
            raise BadRequest("A JSON request body is required")
        return None
    content_type = (event.headers.get("Content-Type") or event.headers.get("content-type") or JSON).lower()
    if not any(content_type.startswith(accepted) for accepted in ACCEPTED_BODY_TYPES):
        raise UnsupportedMediaType(f"Content-Type must be application/json, not {content_type}")
    try:
        return json.loads(raw, parse_constant=_not_json)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"The request body is not valid JSON: {error}") from None


def _not_json(constant: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259), though Python's json module reads them."""
    raise ValueError(f"{constant} is not a JSON value")
