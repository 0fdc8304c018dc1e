"""Part writer throughput against the limit, measured in one run (prints; asserts nothing).

    .venv/bin/python bench/writer.py [--rows 20000]

The writer's path, from raw DynamoDB Query response bodies (JSON bytes, ~1 MB pages, in memory)
through the production code that handles a page (aws._set_items_aside, dynamo_json.decode_item,
the filter evaluator, columns.render_row, writer.write_csv) into a sink that only counts bytes,
against the physical limit on the same rows: csv.writer writing prebuilt tuples to a null sink.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "layers" / "shared")]

from product_export.adapters.aws import RAW_ITEMS, _set_items_aside  # noqa: E402
from product_export.adapters.dynamo_json import decode_item, encode_item  # noqa: E402
from product_export.catalogue.models import ProductData  # noqa: E402
from product_export.catalogue.products import new_item  # noqa: E402
from product_export.export.columns import build_columns, render_row  # noqa: E402
from product_export.export.writer import write_csv  # noqa: E402
from product_export.filters import matches, parse_filter  # noqa: E402

PAGE_BYTES = 1_000_000


class CountingSink:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)


def _product(number: int) -> dict[str, Any]:
    return {
        "name": f'Trail shoe {number}, "Summit" edition with a longer name',
        "commodity_type": "physical",
        "sku": f"SKU-{number:07d}",
        "status": "live",
        "description": ("Light, grippy shoe for wet trails, with a rock plate and a gusseted tongue. " * 6)[
            :480
        ],
        "slug": f"trail-shoe-{number}",
        "external_ref": f"erp-{number:07d}",
        "upc_ean": f"{number:013d}",
        "mpn": f"TS-{number}",
        "tags": ["shoes", "trail", f"size{number % 12}"],
        "extensions": {
            "products(shoes)": {
                "size": 42,
                "colour": "ocean blue",
                "waterproof": True,
                "weight_g": 312.5,
                "drop_mm": 6,
                "lugs": "4 mm",
            }
        },
        "shopper_attributes": {"fit": "narrow", "terrain": "mixed"},
        "admin_attributes": {"cost": "38.20", "supplier": "Acme, Inc.", "note": "reorder at 20"},
    }


def _pages(items: list[dict[str, Any]]) -> list[bytes]:
    """Query response bodies of about PAGE_BYTES each, as DynamoDB sends them."""
    pages, batch, size = [], [], 0
    for item in items:
        encoded = encode_item(item)
        batch.append(encoded)
        size += len(json.dumps(encoded))
        if size >= PAGE_BYTES:
            pages.append(
                json.dumps({"Items": batch, "Count": len(batch), "ScannedCount": len(batch)}).encode()
            )
            batch, size = [], 0
    if batch:
        pages.append(json.dumps({"Items": batch, "Count": len(batch), "ScannedCount": len(batch)}).encode())
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args(argv)
    items = [
        new_item("store", ProductData.model_validate({"type": "product", "attributes": _product(n)}))
        for n in range(1, args.rows + 1)
    ]
    pages = _pages(items)
    row_bytes = sum(len(p) for p in pages) / args.rows
    columns = build_columns(
        {c for i in items for c in i["columns"]}, store_id="store", use_template_slugs=False, include=None
    )
    expr = parse_filter("eq(status,live)")

    def production() -> int:
        def decoded() -> Any:
            for body in pages:
                response: dict[str, Any] = {"status_code": 200, "body": body}
                custom: dict[str, Any] = {}
                _set_items_aside(response_dict=response, customized_response_dict=custom)
                for raw in custom[RAW_ITEMS]:
                    item = decode_item(raw)
                    if matches(expr, item):
                        yield item

        sink = CountingSink()
        return write_csv(columns, decoded(), sink)

    prebuilt = [tuple(render_row(columns, item)) for item in items]

    def limit() -> int:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for row in prebuilt:
            writer.writerow(row)
            if buffer.tell() > 1 << 20:
                buffer.seek(0)
                buffer.truncate()
        return len(prebuilt)

    results = {}
    for name, run in (
        ("limit (csv.writer, prebuilt tuples)", limit),
        ("writer (raw pages -> CSV)", production),
    ):
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            assert run() == args.rows
            best = min(best, time.perf_counter() - started)
        results[name] = args.rows / best
    limit_rate, writer_rate = results.values()
    print(
        f"{args.rows:,} rows of ~{row_bytes:,.0f} bytes (DynamoDB JSON), "
        f"{len(pages)} pages, {len(columns)} columns"
    )
    for name, rate in results.items():
        print(f"{name:<40} {rate:>10,.0f} rows/s")
    print(f"{'writer_ratio':<40} {writer_rate / limit_rate:>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
