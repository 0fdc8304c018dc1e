"""The optional body of POST /pcm/products/export."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Columns(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    include: list[str] = Field(min_length=1, max_length=1000)


class _Attributes(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    columns: _Columns | None = None


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["product-export"] = "product-export"
    attributes: _Attributes = Field(default_factory=_Attributes)


class ExportBody(BaseModel):
    """``{"data":{"type":"product-export","attributes":{"columns":{"include":[...]}}}}``, all optional."""

    model_config = ConfigDict(extra="forbid")
    data: _Data = Field(default_factory=_Data)

    @property
    def include(self) -> list[str] | None:
        return self.data.attributes.columns.include if self.data.attributes.columns else None
