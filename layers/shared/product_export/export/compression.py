"""Compressed parts (``POST /pcm/products/export?compression=gzip``): ``.csv.gz`` objects.

The CSV is gzipped while it streams to S3 (adapters/parts_bucket.py), so memory stays bounded and
the row limits are those of plain parts. The object is served as ``application/gzip`` without a
``Content-Encoding``: HTTP clients then save the ``.gz`` file as it is, and the manifest's checksum
(over the bytes uploaded, so over the compressed ones) matches what they downloaded.
"""

from __future__ import annotations

from typing import Literal

from product_export.errors import BadRequest

PARAMETER = "compression"
Compression = Literal["gzip"]
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
GZIP_CONTENT_TYPE = "application/gzip"


def validate_compression(value: str | None) -> Compression | None:
    """``gzip``, or None (plain CSV) when the parameter is absent or empty; anything else is a 400."""
    if value is None or value == "":
        return None
    if value == "gzip":
        return "gzip"
    raise BadRequest(f"{PARAMETER} must be gzip, or left out for plain CSV parts", source=PARAMETER)


def part_suffix(compression: str | None) -> str:
    return ".csv.gz" if compression == "gzip" else ".csv"


def content_type(compression: str | None) -> str:
    return GZIP_CONTENT_TYPE if compression == "gzip" else CSV_CONTENT_TYPE
