"""The OpenAPI 3.1 document of the whole API, built in one place from the code.

Every route is one ``Operation`` below. Its query parameters and headers are the declarations the
handlers read them with (``api/parameters.py``), its request body the pydantic model the handler
validates with, its answers the models the handler builds them from (``api/documents.py``,
``ErrorDocument`` in ``api/http.py``, ``TokenAnswer`` in ``auth/service.py``). ``GET
/pcm/openapi.json`` serves this document and ``docs/openapi.json`` is it committed (``make
openapi``). Tests check that the two are equal, that the operations are exactly the template's
routes, that each handler reads exactly the parameters its operation declares, and that real
answers of every route validate against it.

    python -m product_export.api.openapi > docs/openapi.json
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from product_export.api.documents import (
    JobAnswer,
    JobErrorList,
    JobList,
    ProductAnswer,
    ProductList,
    WebhookAnswer,
)
from product_export.api.http import ACCEPTED_BODY_TYPES, ERROR_STATUS, JSON, ErrorDocument
from product_export.api.parameters import (
    COMPRESSION,
    FILTER,
    IDEMPOTENCY_KEY,
    PAGE,
    SINCE,
    SPREADSHEET_SAFE,
    USE_TEMPLATE_SLUGS,
    Parameter,
)
from product_export.auth.service import TokenAnswer
from product_export.auth.tokens import GRANTS
from product_export.catalogue.models import ProductDocument
from product_export.export.requests import ExportBody
from product_export.notifications.webhooks import WebhookBody

OPENAPI_PATH = "/pcm/openapi.json"
WEBHOOK_PATH = "/pcm/settings/webhook"
BEARER = "bearerAuth"
_REF = "#/components/schemas/{model}"


class TokenRequest(BaseModel):
    """``application/x-www-form-urlencoded`` (as EP) or a JSON object with the same fields.

    The token route parses the form itself (``AuthService.grant`` checks each field), so this model
    only describes it; the route's answers to good and bad forms are checked against the document
    by tests/integration/test_openapi.py."""

    grant_type: Literal[GRANTS]  # type: ignore[valid-type]
    client_id: str = Field(min_length=1)
    client_secret: str = Field("", description="required for client_credentials")


class OpenApiDocument(BaseModel):
    """This document."""

    model_config = ConfigDict(extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


REQUEST_MODELS: tuple[type[BaseModel], ...] = (TokenRequest, ProductDocument, ExportBody, WebhookBody)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    ErrorDocument,
    TokenAnswer,
    ProductAnswer,
    ProductList,
    JobAnswer,
    JobList,
    JobErrorList,
    WebhookAnswer,
    OpenApiDocument,
)


def _path_id(what: str) -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": f"The {what}'s id (a UUID assigned by the service).",
        "schema": {"type": "string", "format": "uuid"},
    }


# --- operations ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    description: str
    ok: tuple[int, str, type[BaseModel] | None]  # status, description, answer model (None: no body)
    errors: tuple[int, ...]
    id_of: str | None = None  # the path's {id} names this resource
    parameters: tuple[Parameter, ...] = ()  # query parameters and headers, as the handler reads them
    body: type[BaseModel] | None = None
    body_required: bool = True
    body_types: tuple[str, ...] = ACCEPTED_BODY_TYPES
    public: bool = False  # no token: the route has no authorizer


# The handlers' errors by status (the gateway's own 414 beside them), titled as they answer.
ERROR_TITLES: dict[int, str] = {
    **{status: error.title for error, status in ERROR_STATUS.items()},
    414: "URI Too Long",
}
_ERROR_MEANING: dict[int, str] = {
    400: "The request is malformed (a bad parameter, filter or body); `source` names the input.",
    401: "The token is missing, malformed, forged or expired.",
    403: "The token may not do this (a shopper token on an administrator route).",
    404: "No such resource in the caller's store (another store's resource is also a 404).",
    409: "Conflicts with the stored state (a unique field taken, a concurrent change).",
    413: "The request body is too large.",
    414: "The URL is longer than the gateway accepts (a very long filter); the gateway answers.",
    415: "The request body is not JSON.",
    422: "Well-formed but invalid; `source.pointer` names the field.",
    429: (
        "Too many requests: the API's throttling limits, or the store's hourly cap on exports "
        "(then `Retry-After` gives the seconds to wait)."
    ),
}

_WRITE = (400, 401, 403, 413, 415, 422)
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post",
        "/oauth/access_token",
        "createAccessToken",
        "Authentication",
        "Get an access token",
        "Exchanges an application key for a bearer token: `client_credentials` (client id and "
        "secret) gives an administrator token, `implicit` (client id only) a shopper token.",
        (200, "The token.", TokenAnswer),
        (400, 401, 413),  # any media type but JSON is read as a form: no 415
        body=TokenRequest,
        body_types=("application/x-www-form-urlencoded", JSON),
        public=True,
    ),
    Operation(
        "get",
        "/pcm/products",
        "listProducts",
        "Products",
        "List products",
        "The store's products matching the filter, a page at a time. Shopper tokens see live "
        "products only, without `admin_attributes`.",
        (200, "A page of products.", ProductList),
        (400, 401),
        parameters=(FILTER, *PAGE),
    ),
    Operation(
        "post",
        "/pcm/products",
        "createProduct",
        "Products",
        "Create a product",
        "`name` and `commodity_type` are required; `sku` and `external_ref` are unique per store.",
        (201, "The created product.", ProductAnswer),
        (*_WRITE, 409),
        body=ProductDocument,
    ),
    Operation(
        "get",
        "/pcm/products/{id}",
        "getProduct",
        "Products",
        "Get a product",
        "Shopper tokens see live products only.",
        (200, "The product.", ProductAnswer),
        (401, 404),
        id_of="product",
    ),
    Operation(
        "put",
        "/pcm/products/{id}",
        "updateProduct",
        "Products",
        "Update a product",
        "Replaces the attributes given; the others keep their values.",
        (200, "The updated product.", ProductAnswer),
        (*_WRITE, 404, 409),
        id_of="product",
        body=ProductDocument,
    ),
    Operation(
        "delete",
        "/pcm/products/{id}",
        "deleteProduct",
        "Products",
        "Delete a product",
        "Removes the product and frees its sku and external_ref.",
        (204, "Deleted.", None),
        (401, 403, 404, 409),
        id_of="product",
    ),
    Operation(
        "post",
        "/pcm/products/export",
        "exportProducts",
        "Export",
        "Export products to CSV",
        "Starts an export of the store's products matching the filter and answers at once with a "
        "`pending` job. Read the job until `success`: `meta.file_locations` then holds signed links "
        "to CSV files of at most 50,000 products each. `id, name, sku, external_ref, "
        "commodity_type` are always exported; an unknown column in `columns.include` is a 422.",
        (201, "The pending job.", JobAnswer),
        (*_WRITE, 409),
        parameters=(FILTER, USE_TEMPLATE_SLUGS, SINCE, SPREADSHEET_SAFE, COMPRESSION, IDEMPOTENCY_KEY),
        body=ExportBody,
        body_required=False,
    ),
    Operation(
        "get",
        "/pcm/jobs",
        "listJobs",
        "Jobs",
        "List jobs",
        "The store's jobs, newest first.",
        (200, "A page of jobs.", JobList),
        (400, 401, 403),
        parameters=PAGE,
    ),
    Operation(
        "get",
        "/pcm/jobs/{id}",
        "getJob",
        "Jobs",
        "Get a job",
        "The job's status; a successful export's `meta.file_locations` are signed afresh on every read.",
        (200, "The job.", JobAnswer),
        (401, 403, 404),
        id_of="job",
    ),
    Operation(
        "get",
        "/pcm/jobs/{id}/errors",
        "getJobErrors",
        "Jobs",
        "Get a job's errors",
        "One readable message per failure of a failed job.",
        (200, "The job's error messages.", JobErrorList),
        (400, 401, 403, 404),
        id_of="job",
        parameters=PAGE,
    ),
    Operation(
        "post",
        "/pcm/jobs/{id}/cancel",
        "cancelJob",
        "Jobs",
        "Cancel a job",
        "Cancels a pending or started job (its workflow is stopped and its parts removed). "
        "Cancelling a cancelled job answers the same; a finished job is a 422.",
        (200, "The cancelled job.", JobAnswer),
        (401, 403, 404, 422),
        id_of="job",
    ),
    Operation(
        "put",
        WEBHOOK_PATH,
        "putWebhook",
        "Webhook",
        "Set the store's completion webhook",
        "On every final status of an export the job document is POSTed to this URL, signed: "
        '`X-Export-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the '
        "secret returned here (once; each PUT makes a new secret). A failed delivery never fails "
        "the export.",
        (200, "The webhook, with its signing secret.", WebhookAnswer),
        (400, 401, 403, 413, 415, 422),
        body=WebhookBody,
    ),
    Operation(
        "get",
        WEBHOOK_PATH,
        "getWebhook",
        "Webhook",
        "Get the store's completion webhook",
        "The URL (never the secret).",
        (200, "The webhook.", WebhookAnswer),
        (401, 403, 404),
    ),
    Operation(
        "delete",
        WEBHOOK_PATH,
        "deleteWebhook",
        "Webhook",
        "Remove the store's completion webhook",
        "Deliveries stop.",
        (204, "Removed.", None),
        (401, 403, 404),
    ),
    Operation(
        "get",
        OPENAPI_PATH,
        "getOpenApiDocument",
        "Documentation",
        "This OpenAPI document",
        "The API's OpenAPI 3.1 document, generated from the code. Public: no token needed.",
        (200, "The OpenAPI document.", OpenApiDocument),
        (),
        public=True,
    ),
)


# --- the document -------------------------------------------------------------------------------
def _inline_private(definitions: dict[str, Any]) -> dict[str, Any]:
    """Private models (``_Data``, ``_Columns``…) are parts of one body: inline them where used."""
    private = {name for name in definitions if name.startswith("_")}
    prefix = _REF.format(model="")

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(value) for value in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.removeprefix(prefix) in private:
            rest = {key: inline(value) for key, value in node.items() if key != "$ref"}
            return {**inline(definitions[ref.removeprefix(prefix)]), **rest}
        return {key: inline(value) for key, value in node.items()}

    return {name: inline(schema) for name, schema in sorted(definitions.items()) if name not in private}


def _json_content(ref: str) -> dict[str, Any]:
    return {JSON: {"schema": {"$ref": ref}}}


def _operation(op: Operation, refs: dict[type[BaseModel], str]) -> dict[str, Any]:
    status, description, answer = op.ok
    responses: dict[str, Any] = {str(status): {"description": description}}
    if answer is not None:
        responses[str(status)]["content"] = _json_content(refs[answer])
    implied = {  # the gateway's own answers: no token, a URL too long, throttling
        *(() if op.public else (401,)),
        *((414,) if any(p.location == "query" for p in op.parameters) else ()),
        429,
    }
    errors = sorted({*op.errors, *implied})
    for code in errors:
        responses[str(code)] = {"$ref": f"#/components/responses/{code}"}
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "tags": [op.tag],
        "summary": op.summary,
        "description": op.description,
    }
    parameters = [*((_path_id(op.id_of),) if op.id_of else ()), *(p.openapi() for p in op.parameters)]
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        document["requestBody"] = {
            "required": op.body_required,
            "content": {media: {"schema": {"$ref": refs[op.body]}} for media in op.body_types},
        }
    document["responses"] = responses
    if op.public:
        document["security"] = []
    return document


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route (a new dict on every call)."""
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        *((model, "validation") for model in REQUEST_MODELS),
        *((model, "serialization") for model in RESPONSE_MODELS),
    ]
    mapping, definitions = models_json_schema(models, ref_template=_REF)
    refs = {model: str(mapping[(model, mode)]["$ref"]) for model, mode in models}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    error_ref = refs[ErrorDocument]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Product Export API",
            "version": "1.0.0",
            "description": (
                "An Elastic Path PXM compatible product export and jobs API. Errors are JSON:API "
                "error documents. Get a token from `POST /oauth/access_token` and send it as "
                "`Authorization: Bearer <token>`; shopper (implicit) tokens may only read products."
            ),
        },
        # Relative to where this document is served (<root>/pcm/openapi.json): the API's root,
        # which is the stage URL (…/v1) when deployed and the host's root on `make serve`.
        "servers": [{"url": "..", "description": "the API root, relative to this document"}],
        "security": [{BEARER: []}],
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from POST /oauth/access_token.",
                }
            },
            "responses": {
                str(code): {
                    "description": f"{ERROR_TITLES[code]}: {_ERROR_MEANING[code]}",
                    "content": _json_content(error_ref),
                }
                for code in sorted(ERROR_TITLES)
            },
            "schemas": _inline_private(definitions.get("$defs", {})),
        },
    }


def openapi_json() -> str:
    """The document as committed in docs/openapi.json: stable order, two-space indent, final newline."""
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(openapi_json())
