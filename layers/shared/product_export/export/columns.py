"""CSV columns: which ones an export has, their order and how each cell is read from a product."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from product_export.catalogue.models import COLUMN_SEPARATOR, template_id
from product_export.errors import Unprocessable
from product_export.values import cell_text

# (header, stored attribute) in the contract's order.
BASE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "id"),
    ("external_ref", "external_ref"),
    ("name", "name"),
    ("description", "description"),
    ("slug", "slug"),
    ("status", "status"),
    ("commodity_type", "commodity_type"),
    ("upc_ean", "upc_ean"),
    ("mpn", "mpn"),
    ("sku", "sku"),
    ("tags", "tags"),
    ("main_image_id", "main_image_id"),
    ("_created_at", "created_at"),
    ("_updated_at", "updated_at"),
)
ALWAYS_EXPORTED = frozenset({"id", "name", "sku", "external_ref", "commodity_type"})
BASE_HEADERS = frozenset(header for header, _ in BASE_COLUMNS)
TEMPLATE_TIMES = ("created_at", "updated_at")
_TEMPLATE_COLUMN = re.compile(r"^template:([^:]+):([^:]+)$")


@dataclass(frozen=True)
class Column:
    """One CSV column: ``path`` is where its value sits in a stored product item."""

    header: str
    path: tuple[str, ...]

    def to_json(self) -> list[str]:
        return [self.header, *self.path]

    @classmethod
    def from_json(cls, value: list[str]) -> Column:
        return cls(value[0], tuple(value[1:]))


def validate_include(entries: list[str]) -> list[str]:
    """Check a ``columns.include`` list; unknown columns are a 422 naming them."""
    for index, entry in enumerate(entries):
        if entry in BASE_HEADERS or _TEMPLATE_COLUMN.match(entry):
            continue
        prefix, _, key = entry.partition(".")
        if prefix in ("shopper_attributes", "admin_attributes") and key:
            continue
        raise Unprocessable(
            f"Unknown column '{entry}': use one of {', '.join(h for h, _ in BASE_COLUMNS)}, "
            "template:<template>:<field>, shopper_attributes.<key> or admin_attributes.<key>",
            source=f"/data/attributes/columns/include/{index}",
        )
    return entries


def build_columns(
    index_entries: Iterable[str], *, store_id: str, use_template_slugs: bool, include: list[str] | None
) -> list[Column]:
    """The header of an export from the column index entries of every exported product."""
    templates: dict[str, set[str]] = {}
    shopper: set[str] = set()
    admin: set[str] = set()
    for entry in index_entries:
        kind, *rest = entry.split(COLUMN_SEPARATOR)
        if kind == "t":
            fields = templates.setdefault(rest[0], set())
            if len(rest) == 2:
                fields.add(rest[1])
        elif kind == "s":
            shopper.add(rest[0])
        elif kind == "a":
            admin.add(rest[0])

    columns = [Column(header, (attribute,)) for header, attribute in BASE_COLUMNS]
    named = {slug: slug if use_template_slugs else template_id(store_id, slug) for slug in templates}
    for slug in sorted(templates, key=lambda s: named[s]):
        prefix = f"template:{named[slug]}"
        columns += [
            Column(f"{prefix}:{field}", ("extensions", slug, field)) for field in sorted(templates[slug])
        ]
        columns += [Column(f"{prefix}:{time}", ("extension_times", slug, time)) for time in TEMPLATE_TIMES]
    columns += [Column(f"shopper_attributes.{key}", ("shopper_attributes", key)) for key in sorted(shopper)]
    columns += [Column(f"admin_attributes.{key}", ("admin_attributes", key)) for key in sorted(admin)]
    if include is None:
        return columns

    wanted = set(include)
    # The include list may name a template by id or by slug, whichever the export's headers use.
    by_name = {name: slug for slug in templates for name in (slug, template_id(store_id, slug))}
    for entry in include:
        match = _TEMPLATE_COLUMN.match(entry)
        if match and match.group(1) in by_name:
            wanted.add(f"template:{named[by_name[match.group(1)]]}:{match.group(2)}")
    return [column for column in columns if column.header in ALWAYS_EXPORTED or column.header in wanted]


def row_renderer(columns: list[Column]) -> Callable[[dict[str, Any]], list[str]]:
    """A function rendering an item's cells, with the column paths worked out once per part.

    It runs once per exported product and column (millions of times), so it avoids a call per
    cell for the common cases: strings stored as they are exported, and missing values.
    """
    paths = [(column.path[0], column.path[1:]) for column in columns]

    def render(item: dict[str, Any]) -> list[str]:
        row: list[str] = []
        append = row.append
        for head, rest in paths:
            value = item.get(head)
            for step in rest:
                value = value.get(step) if value.__class__ is dict else None
            if value is None:
                append("")
            elif value.__class__ is str:
                append(value)
            elif value.__class__ is list:
                append(",".join(cell_text(element) for element in value))
            else:
                append(cell_text(value))
        return row

    return render


def render_row(columns: list[Column], item: dict[str, Any]) -> list[str]:
    return row_renderer(columns)(item)


def cell(item: dict[str, Any], path: tuple[str, ...]) -> str:
    return render_row([Column("", path)], item)[0]
