"""A part's CSV rows, read straight from the bodies of DynamoDB Query responses.

The part writer handles every cell of every exported product, so it does not decode whole
products into dicts and then look each cell up in them. :class:`PartRows`, built once per part
from the part's columns, is the table's page reader (``ProductsTable.reading``):

- msgspec decodes each page body into structs shaped like the columns: a field per attribute the
  columns read, a map (``extensions``, a template's fields, ``shopper_attributes``, ...) as a
  nested struct with a field per key a column reads. Whatever no column reads is skipped, not built.
- A row function generated for the columns reads each cell by attribute access: a string value
  is its own cell, a number seen before its cached cell, a boolean ``true``/``false``; lists and
  the rest go through :func:`other_cell`. The rows are made one at a time as the writer takes
  them, so only the page's structs and a batch of rows are held.
- The attributes ``matching_products`` itself reads (``catalogue.service.item_attributes``) are
  decoded to Python values as always, so the bundle check, the filter evaluator and the
  updated-at ranges decide on exactly what they see on the generic path.

The cells are those ``columns.row_renderer`` gives for the decoded product, for every DynamoDB
type (tests/unit/test_export_rows.py checks it against the generic path).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from product_export.adapters.aws import QueryPageRest
from product_export.adapters.dynamo_json import AttributeValue, to_python
from product_export.catalogue.service import item_attributes
from product_export.export.columns import Column
from product_export.filters import Expr
from product_export.values import cell_text

# Defaults for what an item lacks: a cell the columns read renders empty at once (an empty
# string), while an attribute matching_products reads stays absent from the decoded attributes.
_EMPTY = AttributeValue(S="")
_MISSING = AttributeValue()

# What msgspec accepts as a field's name in the JSON (it refuses backslashes, quotes and controls).
_NAMEABLE = re.compile(r'[^\\"\x00-\x1f]*')

_NUMBER_TEXTS: dict[str, str] = {}
_NUMBER_TEXTS_MAX = 4096


class ProductRow(dict[str, Any]):
    """A product as the part writer reads it: the attributes ``matching_products`` reads,
    decoded, and ``cells``, the product's CSV cells in the part's column order."""

    __slots__ = ("cells",)
    cells: list[str]


def number_text(number: str) -> str:
    """The cell of a DynamoDB number. Catalogues repeat their numbers (sizes, prices), hence the cache."""
    text = _NUMBER_TEXTS.get(number)
    if text is None:
        text = cell_text(Decimal(number))
        if len(_NUMBER_TEXTS) >= _NUMBER_TEXTS_MAX:
            _NUMBER_TEXTS.clear()
        _NUMBER_TEXTS[number] = text
    return text


def other_cell(value: AttributeValue) -> str:
    """The cell of a value that is no string (a string is its own cell), as ``row_renderer``
    renders the value's decoded form."""
    if value.N is not None:
        return number_text(value.N)
    if value.L is not None:
        return ",".join([e.S if e.S is not None else cell_text(to_python(e)) for e in value.L])
    if value.BOOL is not None:
        return "true" if value.BOOL else "false"
    if value is _MISSING or value.NULL is not None:
        return ""
    return cell_text(to_python(value))  # maps and sets: as the generic path prints them


def member(value: AttributeValue, key: str) -> AttributeValue:
    """A map's member, or an empty value when ``value`` is no map or lacks ``key``."""
    members = value.M
    return members.get(key, _EMPTY) if members is not None else _EMPTY


@dataclass
class _Node:
    """A position in the items' structure that a column or matching_products reads."""

    children: dict[str, _Node] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # child key -> struct field name
    seen: dict[str, None] = field(default_factory=dict)  # child keys in the order items hold them
    whole: bool = False  # its whole value is read (a cell, or a decoded attribute)
    decoded: bool = False


def _follow(node: _Node, typed: dict[str, Any]) -> None:
    """Note the order in which an item (its typed JSON) holds the keys the tree reads."""
    for key, value in typed.items():
        child = node.children.get(key)
        if child is None:
            continue
        node.seen.setdefault(key)
        members = value.get("M") if isinstance(value, dict) else None
        if not child.whole and isinstance(members, dict):
            _follow(child, members)


def _tree(columns: Sequence[Column], decoded: Collection[str]) -> _Node:
    root = _Node()
    for name in decoded:
        node = root.children.setdefault(name, _Node())
        node.whole = node.decoded = True
    for column in columns:
        node = root
        for step in column.path:
            node = node.children.setdefault(step, _Node())
        node.whole = True
    for name, node in root.children.items():
        if not _NAMEABLE.fullmatch(name):
            raise ValueError(f"attribute name {name!r} cannot name a struct field")
        _read_unnameable_whole(node)
    return root


def _read_unnameable_whole(node: _Node) -> None:
    """A map with a key msgspec cannot take as a field name (a quote, a backslash, a control
    character: attribute keys are user text) is read whole, its members looked up by key."""
    if any(not _NAMEABLE.fullmatch(key) for key in node.children):
        node.whole = True
    for child in node.children.values():
        _read_unnameable_whole(child)


class _Structs:
    """msgspec struct types mirroring a tree: a map read key by key is a ``{"M": <fields>}``
    holder around a struct with one field per key; a value read whole is an AttributeValue."""

    def __init__(self) -> None:
        self.count = 0

    def fields_of(self, node: _Node) -> type[msgspec.Struct]:
        fields: list[tuple[str, Any, Any]] = []
        # msgspec matches a key to a field fastest when keys come in field order.
        keys = [*node.seen, *(key for key in node.children if key not in node.seen)]
        for index, key in enumerate(keys):
            child = node.children[key]
            name = node.fields[key] = f"f{index}"
            if child.whole:
                fields.append((name, AttributeValue, _MISSING if child.decoded else _EMPTY))
            else:
                inner = self.fields_of(child)
                holder = self._define("Map", [("M", inner, inner())])
                fields.append((name, holder, holder()))
        rename = {node.fields[key]: key for key in node.children}
        return self._define("Fields", fields, rename=rename)

    def _define(self, kind: str, fields: list[tuple[str, Any, Any]], **options: Any) -> type[msgspec.Struct]:
        self.count += 1
        return msgspec.defstruct(f"{kind}{self.count}", fields, frozen=True, gc=False, **options)


def _cell_source(root: _Node, path: tuple[str, ...], constants: dict[str, Any], maps: dict[str, str]) -> str:
    """An expression for a column's cell of ``item``: attribute access down to the value (through
    ``member`` below a value read whole), then the string itself, a number's cached cell, a
    boolean's, or the cell of another value. Each map struct on the way is read once per row,
    into a local named in ``maps`` (its expression -> the local's name)."""
    source, node, whole = "item", root, False
    for step in path:
        if whole:
            constant = f"K{len(constants)}"
            constants[constant] = step
            source = f"member({source}, {constant})"
            continue
        child = node.children[step]
        source = f"{source}.{node.fields[step]}"
        whole = child.whole
        if not whole:
            source = maps.setdefault(f"{source}.M", f"m{len(maps)}")
        node = child
    return (
        f"(s if (s := (v := {source}).S) is not None"
        " else n if (n := NUMBER_TEXTS.get(v.N)) is not None"
        ' else ("true" if b else "false") if (b := v.BOOL) is not None else other_cell(v))'
    )


# A decoded attribute that is no string: a list (product_types) decoded a level deeper in place.
_DECODED_OTHER = (
    "[x if (x := e.S) is not None else to_python(e) for e in l] if (l := v.L) is not None else to_python(v)"
)


class _Sample(msgspec.Struct, gc=False):
    Items: list[msgspec.Raw] = msgspec.field(default_factory=list)


_sample = msgspec.json.Decoder(_Sample)
_SAMPLE_ITEMS = 8


class PartRows:
    """The page reader of a part with these columns and this filter: Query bodies in,
    :class:`ProductRow` items out."""

    def __init__(self, columns: Sequence[Column], expr: Expr | None) -> None:
        self._columns = list(columns)
        self._decoded = item_attributes(expr)
        self._root = _tree(self._columns, self._decoded)
        self.attributes = frozenset(self._root.children)
        self._pages: msgspec.json.Decoder[Any] | None = None
        self._read: Any = None

    def _prepare(self, body: bytes) -> msgspec.json.Decoder[Any]:
        """Build the structs and the row function, their fields in the order the first items of
        the first page hold their keys: items written alike answer alike, and any other order
        only costs speed."""
        for raw in _sample.decode(body).Items[:_SAMPLE_ITEMS]:
            _follow(self._root, msgspec.json.decode(raw))
        item_type = _Structs().fields_of(self._root)
        page_type = msgspec.defstruct(
            "Page",
            [("Items", list[item_type], msgspec.field(default_factory=list))],  # type: ignore[valid-type]
            bases=(QueryPageRest,),  # the rest of the page, for botocore (aws.decoding_pages)
            gc=False,
        )
        self._read = self._row_function(self._root, self._columns, self._decoded)
        self._pages = msgspec.json.Decoder(page_type)
        return self._pages

    @staticmethod
    def _row_function(root: _Node, columns: Sequence[Column], decoded: Collection[str]) -> Any:
        """Generated, so that a row costs one call and plain attribute reads, not a call per cell.
        The source holds only generated names; attribute names and keys are passed as constants."""
        constants: dict[str, Any] = {}
        lines = ["def read(item):", "    row = ProductRow()"]
        for name in sorted(decoded):
            constant = f"D{len(constants)}"
            constants[constant] = name
            lines += [
                f"    v = item.{root.fields[name]}",
                "    if v is not MISSING:",
                f"        row[{constant}] = s if (s := v.S) is not None else {_DECODED_OTHER}",
            ]
        maps: dict[str, str] = {}
        cells = [_cell_source(root, column.path, constants, maps) for column in columns]
        lines += [f"    {name} = {source}" for source, name in maps.items()]
        lines += ["    row.cells = [", *(f"        {source}," for source in cells), "    ]", "    return row"]
        namespace = {
            "ProductRow": ProductRow,
            "MISSING": _MISSING,
            "to_python": to_python,
            "other_cell": other_cell,
            "member": member,
            "NUMBER_TEXTS": _NUMBER_TEXTS,  # what number_text has cached (a number seen before)
            **constants,
        }
        exec(compile("\n".join(lines), "<part rows>", "exec"), namespace)  # noqa: S102
        return namespace["read"]

    def decode_page(self, body: bytes) -> Any:
        """One Query response body decoded into the part's structs (``ProductsTable.PageReader``)."""
        return (self._pages or self._prepare(body)).decode(body)

    def rows(self, page: Any) -> Iterator[ProductRow]:
        """The rows of a decoded page, each made as it is taken: the writer holds a batch of rows
        at a time, not the page's."""
        return map(self._read, page.Items)

    def items(self, body: bytes) -> Iterator[ProductRow]:
        """The rows of one Query response body."""
        return self.rows(self.decode_page(body))
