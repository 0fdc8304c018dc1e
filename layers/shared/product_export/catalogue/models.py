"""Products as the API receives them (JSON:API) and as the table stores them.

Stored item layout (one DynamoDB item per product):
  pk = "<store id>#<shard>" with shard = crc32(product id) % SHARD_COUNT, sk = product id.
Top-level attributes are the product's own fields (absent when missing), so the filter evaluator
and DynamoDB filter expressions address them directly. ``columns`` lists the CSV columns the
product fills beyond the fixed ones, so the export planner learns the header without reading
template or attribute values.
"""

from __future__ import annotations

import math
import re
import uuid
import zlib
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

SHARD_COUNT = 64
# Unique per store; enforced by guard items written in the same transaction as the product.
UNIQUE_FIELDS = ("sku", "external_ref")
EXTENSION_KEY = re.compile(r"^products\(([A-Za-z0-9_-]{1,128})\)$")
NAME_PART = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
TEMPLATE_NAMESPACE = uuid.UUID("5b0f1a7e-6d2c-4f0e-9a51-2f1c8d7b9e00")
COLUMN_SEPARATOR = "\x1f"

# Size limits (docs/security.md): each over-long value or over-full map is a 422 naming it; a
# product whose stored item would still exceed DynamoDB's 400 KB is a 422 too, and a body over
# 512 KiB a 413 before it is parsed (api/http.py).
MAX_TEXT = 65_536
MAX_ATTRIBUTES = 200  # keys of shopper_attributes, admin_attributes, a template's fields, a locale
MAX_TEMPLATES = 50  # templates (extensions) or locales of one product
LongText = Annotated[StrictStr, Field(max_length=MAX_TEXT)]
ExtensionValue = LongText | StrictBool | StrictInt | StrictFloat | None
Attributes = Annotated[dict[StrictStr, LongText], Field(max_length=MAX_ATTRIBUTES)]


def shard_of(product_id: str) -> int:
    return zlib.crc32(product_id.encode()) % SHARD_COUNT


def shard_key(store_id: str, shard: int) -> str:
    return f"{store_id}#{shard:02d}"


def template_id(store_id: str, slug: str) -> str:
    """Templates have no API of their own here; a template's id is derived from store and slug."""
    return str(uuid.uuid5(TEMPLATE_NAMESPACE, f"{store_id}/{slug}"))


class Relationship(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: StrictStr = "file"
    id: StrictStr = Field(min_length=1, max_length=256)


class RelationshipData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: Relationship | None


class Relationships(BaseModel):
    model_config = ConfigDict(extra="forbid")
    main_image: RelationshipData | None = None


class ComponentOption(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: StrictStr
    type: StrictStr = "product"
    quantity: StrictInt = 1


class Component(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: StrictStr | None = None
    options: list[ComponentOption] = Field(default_factory=list)


ShortText = Annotated[str, Field(max_length=65_536)]


class ProductAttributes(BaseModel):
    """Every attribute optional: the same model validates a create (after required checks) and a PUT."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    description: ShortText | None = None
    slug: Annotated[str, Field(max_length=1024)] | None = None
    sku: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    status: Literal["draft", "live"] | None = None
    commodity_type: Literal["physical", "digital"] | None = None
    upc_ean: Annotated[str, Field(max_length=1024)] | None = None
    mpn: Annotated[str, Field(max_length=1024)] | None = None
    external_ref: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    tags: Annotated[list[StrictStr], Field(max_length=20)] | None = None
    locales: Annotated[dict[StrictStr, Attributes], Field(max_length=MAX_TEMPLATES)] | None = None
    extensions: (
        Annotated[
            dict[StrictStr, Annotated[dict[StrictStr, ExtensionValue], Field(max_length=MAX_ATTRIBUTES)]],
            Field(max_length=MAX_TEMPLATES),
        ]
        | None
    ) = None
    shopper_attributes: Attributes | None = None
    admin_attributes: Attributes | None = None
    components: dict[StrictStr, Component] | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str] | None) -> list[str] | None:
        for tag in tags or []:
            if not tag or any(ch in tag for ch in ", \t\r\n"):
                raise ValueError(f"tag {tag!r} must be non-empty without commas or whitespace")
        return tags

    @field_validator("extensions")
    @classmethod
    def _extensions(cls, extensions: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]] | None:
        for key, fields in (extensions or {}).items():
            if not EXTENSION_KEY.match(key):
                raise ValueError(f"extension key {key!r} must be products(<template slug>)")
            for name, value in fields.items():
                if not NAME_PART.match(name):
                    raise ValueError(f"template field name {name!r} must match [A-Za-z0-9_-]{{1,128}}")
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError(f"template field {name!r} must be a finite number")
        return extensions

    @field_validator("shopper_attributes", "admin_attributes")
    @classmethod
    def _attribute_keys(cls, attributes: dict[str, str] | None) -> dict[str, str] | None:
        for key in attributes or {}:
            if not key or len(key) > 256:
                raise ValueError("attribute keys must be 1 to 256 characters")
        return attributes


class ProductData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["product"]
    id: StrictStr | None = None
    attributes: ProductAttributes
    relationships: Relationships | None = None


class ProductDocument(BaseModel):
    """The request body of POST and PUT /pcm/products."""

    model_config = ConfigDict(extra="forbid")
    data: ProductData


def to_stored_number(value: Any) -> Any:
    """DynamoDB takes no floats: store them as Decimal of their shortest repr."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def column_index(item: dict[str, Any]) -> list[str]:
    """The optional CSV columns this product fills (template fields, attribute keys)."""
    columns: list[str] = []
    for slug, fields in item.get("extensions", {}).items():
        # The bare template entry brings the template's created_at/updated_at columns.
        columns.append(f"t{COLUMN_SEPARATOR}{slug}")
        columns += [f"t{COLUMN_SEPARATOR}{slug}{COLUMN_SEPARATOR}{field}" for field in fields]
    columns += [f"s{COLUMN_SEPARATOR}{key}" for key in item.get("shopper_attributes", {})]
    columns += [f"a{COLUMN_SEPARATOR}{key}" for key in item.get("admin_attributes", {})]
    return columns
