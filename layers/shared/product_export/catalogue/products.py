"""Building stored product items from requests and rendering them as JSON:API resources."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from product_export.catalogue.models import (
    EXTENSION_KEY,
    ProductAttributes,
    ProductData,
    column_index,
    shard_key,
    shard_of,
    template_id,
    to_stored_number,
)
from product_export.errors import Conflict, Unprocessable
from product_export.ids import uuid4
from product_export.values import now_timestamp

SCALAR_FIELDS = (
    "name",
    "description",
    "slug",
    "sku",
    "status",
    "commodity_type",
    "upc_ean",
    "mpn",
    "external_ref",
)


def new_item(store_id: str, data: ProductData) -> dict[str, Any]:
    """A stored item for a new product; raises Unprocessable naming a missing required field."""
    attributes = data.attributes
    for required in ("name", "commodity_type"):
        if getattr(attributes, required) is None:
            raise Unprocessable(f"'{required}' is required", source=f"/data/attributes/{required}")
    product_id = uuid4()
    now = now_timestamp()
    item: dict[str, Any] = {
        "pk": shard_key(store_id, shard_of(product_id)),
        "sk": product_id,
        "id": product_id,
        "status": "draft",
        "tags": [],
        "extensions": {},
        "extension_times": {},
        "shopper_attributes": {},
        "admin_attributes": {},
        "owner": "store",
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    _apply(store_id, item, data, now)
    return item


def updated_item(store_id: str, current: dict[str, Any], data: ProductData) -> dict[str, Any]:
    """The stored item after a PUT: attributes present in the body replace, null clears."""
    if data.id is not None and data.id != current["id"]:
        raise Conflict("data.id does not match the product in the path", source="/data/id")
    item = dict(current)
    now = now_timestamp()
    _apply(store_id, item, data, now)
    for required in ("name", "commodity_type"):
        if item.get(required) is None:
            raise Unprocessable(f"'{required}' cannot be removed", source=f"/data/attributes/{required}")
    item["updated_at"] = now
    item["version"] = int(current["version"]) + 1
    return item


def _apply(store_id: str, item: dict[str, Any], data: ProductData, now: str) -> None:
    attributes: ProductAttributes = data.attributes
    given = attributes.model_fields_set
    for field in SCALAR_FIELDS:
        if field in given:
            _set(item, field, getattr(attributes, field))
    if "tags" in given:
        item["tags"] = list(attributes.tags or [])
    if "locales" in given:
        _set(item, "locales", attributes.locales or None)
    for field in ("shopper_attributes", "admin_attributes"):
        if field in given:
            item[field] = dict(getattr(attributes, field) or {})
    if "extensions" in given:
        _apply_extensions(store_id, item, attributes.extensions or {}, now)
    if "components" in given:
        _set(
            item,
            "components",
            attributes.components
            and {
                name: _stored_numbers(component.model_dump(exclude_none=True))
                for name, component in attributes.components.items()
            },
        )
    if data.relationships is not None and "main_image" in data.relationships.model_fields_set:
        image = data.relationships.main_image
        _set(item, "main_image_id", image.data.id if image and image.data else None)
    item["product_types"] = ["bundle"] if item.get("components") else ["standard"]
    item["columns"] = column_index(item)


def _apply_extensions(store_id: str, item: dict[str, Any], extensions: dict[str, Any], now: str) -> None:
    """Replace the extension data per template given; keep each template's first-seen time."""
    stored: dict[str, Any] = {}
    times: dict[str, Any] = {}
    old_times = item.get("extension_times", {})
    old_values = item.get("extensions", {})
    for key, fields in extensions.items():
        match = EXTENSION_KEY.match(key)
        assert match  # validated by the model
        slug = match.group(1)
        values = {name: to_stored_number(value) for name, value in fields.items()}
        stored[slug] = values
        previous = old_times.get(slug)
        if previous and old_values.get(slug) == values:
            times[slug] = previous
        else:
            created = previous["created_at"] if previous else now
            times[slug] = {"created_at": created, "updated_at": now}
    item["extensions"] = stored
    item["extension_times"] = times
    item["templates"] = sorted(template_id(store_id, slug) for slug in stored)


def _set(item: dict[str, Any], field: str, value: Any) -> None:
    if value is None:
        item.pop(field, None)
    else:
        item[field] = value


# DynamoDB stores documents nested at most 32 levels; the item and "components" take two.
MAX_COMPONENT_DEPTH = 30


def _stored_numbers(value: Any, depth: int = 0) -> Any:
    """Components may carry any JSON (extra fields): their floats are stored as Decimal too."""
    if depth > MAX_COMPONENT_DEPTH:
        raise Unprocessable(
            f"components are nested more than {MAX_COMPONENT_DEPTH} levels deep",
            source="/data/attributes/components",
        )
    if isinstance(value, dict):
        return {key: _stored_numbers(inner, depth + 1) for key, inner in value.items()}
    if isinstance(value, list):
        return [_stored_numbers(inner, depth + 1) for inner in value]
    return to_stored_number(value)


def _json_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def to_resource(item: dict[str, Any], *, include_admin: bool = True) -> dict[str, Any]:
    """The JSON:API ``product`` resource of a stored item."""
    attributes: dict[str, Any] = {field: item[field] for field in SCALAR_FIELDS if field in item}
    attributes["tags"] = list(item.get("tags", []))
    if "locales" in item:
        attributes["locales"] = item["locales"]
    attributes["extensions"] = {
        f"products({slug})": {name: _json_number(value) for name, value in fields.items()}
        for slug, fields in item.get("extensions", {}).items()
    }
    attributes["shopper_attributes"] = dict(item.get("shopper_attributes", {}))
    if include_admin:
        attributes["admin_attributes"] = dict(item.get("admin_attributes", {}))
    if "components" in item:
        attributes["components"] = _plain(item["components"])
    resource: dict[str, Any] = {
        "type": "product",
        "id": item["id"],
        "attributes": attributes,
        "meta": {
            "created_at": item["created_at"],
            "updated_at": item["updated_at"],
            "product_types": list(item.get("product_types", ["standard"])),
            "owner": item.get("owner", "store"),
        },
    }
    if "main_image_id" in item:
        resource["relationships"] = {"main_image": {"data": {"type": "file", "id": item["main_image_id"]}}}
    return resource


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return _json_number(value)
