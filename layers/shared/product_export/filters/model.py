"""The filter syntax tree, the error every bad filter raises, and the request limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

MAX_FILTERS = 10
MAX_FILTER_BYTES = 8192


class FilterError(ValueError):
    """A filter the service cannot accept. ``detail`` says precisely why; it becomes the 400 detail."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class Field:
    """A filterable field: its canonical name (as the contract spells it) and the item attribute path."""

    name: str
    path: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """One call such as ``eq(sku,abc)``: operator, field and the (normalised) values."""

    op: str
    field: Field
    values: tuple[str, ...]


@dataclass(frozen=True)
class And:
    terms: tuple[Expr, ...]

    def __post_init__(self) -> None:
        if len(self.terms) < 2:
            raise ValueError("And needs at least two terms")


@dataclass(frozen=True)
class Or:
    terms: tuple[Expr, ...]

    def __post_init__(self) -> None:
        if len(self.terms) < 2:
            raise ValueError("Or needs at least two terms")


Expr: TypeAlias = Comparison | And | Or
