"""Which fields the filter language knows, where they live in an item, and which operators they take."""

from __future__ import annotations

from collections.abc import Mapping

from product_export.filters.model import Field, FilterError

OPERATORS = ("eq", "like", "in", "gt", "ge", "lt", "le", "is_null")
ORDERING_OPERATORS = frozenset({"gt", "ge", "lt", "le"})

_EQ = (
    *("id", "sku", "slug", "upc_ean", "manufacturer_part_num", "name", "description", "templates"),
    *("commodity_type", "owner", "product_types", "parent_id", "tags", "status", "created_at"),
    *("updated_at", "external_ref"),
)
_LIKE = ("sku", "slug", "upc_ean", "manufacturer_part_num", "name", "tags", "description", "external_ref")
_IN = (
    *("id", "name", "sku", "slug", "upc_ean", "manufacturer_part_num", "product_types", "parent_id"),
    *("tags", "external_ref"),
)
_ORDERED = ("id", "created_at", "updated_at", "external_ref")

# Canonical field name -> operators allowed on it (is_null is allowed wherever eq is).
FIELD_OPERATORS: Mapping[str, frozenset[str]] = {
    name: frozenset(
        {"eq", "is_null"}
        | ({"like"} if name in _LIKE else set())
        | ({"in"} if name in _IN else set())
        | (ORDERING_OPERATORS if name in _ORDERED else set())
    )
    for name in _EQ
}
MAP_FIELD_OPERATORS = frozenset({"eq", "is_null"})
MAP_FIELDS = ("extensions", "shopper_attributes", "admin_attributes")

ALIASES: Mapping[str, str] = {"mpn": "manufacturer_part_num"}
_ATTRIBUTE: Mapping[str, str] = {"manufacturer_part_num": "mpn"}

LIST_FIELDS = frozenset({"tags", "product_types"})
TIMESTAMP_FIELDS = frozenset({"created_at", "updated_at"})
TEMPLATES = "templates"


def resolve_field(name: str) -> Field:
    """The Field a filter names (``mpn`` becomes ``manufacturer_part_num``); FilterError if unknown."""
    canonical = ALIASES.get(name, name)
    if canonical in FIELD_OPERATORS:
        return Field(canonical, (_ATTRIBUTE.get(canonical, canonical),))
    prefix, dot, rest = name.partition(".")
    if dot and prefix == "extensions":
        template, dot, field = rest.partition(".")
        if not (template and dot and field):
            raise FilterError(f"Invalid field '{name}': expected extensions.<template>.<field>")
        return Field(name, (prefix, template, field))
    if dot and prefix in MAP_FIELDS:
        if not rest:
            raise FilterError(f"Invalid field '{name}': expected {prefix}.<key>")
        return Field(name, (prefix, rest))
    raise FilterError(f"Unknown field '{name}'")


def allowed_operators(field: Field) -> frozenset[str]:
    return FIELD_OPERATORS.get(field.name, MAP_FIELD_OPERATORS)


def like_pattern(value: str) -> tuple[bool, str, bool]:
    """Split a like value into (leading '*', literal core, trailing '*'). ``*`` and ``**`` match anything."""
    lead = value.startswith("*")
    core = value[1:] if lead else value
    trail = core.endswith("*")
    return lead, core[:-1] if trail else core, trail
