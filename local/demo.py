"""The main job, on the embedded stack: seed a catalogue, export it over the API, check the parts.

    python -m local.demo [--products N] [--filter TEXT] [--part-size N]

Everything runs in this process on moto: the real authorizer and API handlers behind the
emulated API Gateway, and the template's own state machine with its Lambda tasks dispatched to
the real handlers. moto's DynamoDB slows down as tables grow (see platform-facts), so the default
catalogue is small; the fast local stack is tracked in its own issue.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
import urllib.parse
from typing import Any

import requests

from local.apigw import ApiResponse
from local.stack import EmbeddedStack, embedded_stack
from local.stores import DemoStore, create_store


def _product(number: int) -> dict[str, Any]:
    """A varied product: templates, tags, unicode, commas, quotes, newlines, drafts and live."""
    attributes: dict[str, Any] = {
        "name": f'Trail shoe {number}, "Summit" — ünïcødé',
        "commodity_type": "physical" if number % 4 else "digital",
        "sku": f"SKU-{number:07d}",
        "status": "live" if number % 3 else "draft",
        "description": f"Light, grippy shoe #{number}.\nSecond line with 'quotes'.",
        "slug": f"trail-shoe-{number}",
        "external_ref": f"erp-{number:07d}",
        "tags": [f"size{number % 12}", "shoes"],
        "extensions": {
            "products(shoes)": {
                "size": 36 + number % 12,
                "colour": f"colour {number % 9}",
                "waterproof": bool(number % 2),
            }
        },
        "shopper_attributes": {"fit": ["narrow", "regular", "wide"][number % 3]},
        "admin_attributes": {"cost": f"{number % 100}.50"},
    }
    if number % 5 == 0:
        attributes["extensions"]["products(care)"] = {"wash": "cold, gentle"}
    return attributes


def _call(store: DemoStore, stack: EmbeddedStack, method: str, path: str, **kwargs: Any) -> ApiResponse:
    assert stack.api is not None
    headers = {"Authorization": f"Bearer {store.admin_token}", "Content-Type": "application/json"}
    return stack.api.request(method, path, headers=headers, **kwargs)


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total if total else width
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def _seed(stack: EmbeddedStack, store: DemoStore, products: int) -> None:
    bundles = max(products // 1000, 1)
    for number in range(1, products + bundles + 1):
        attributes = _product(number)
        if number > products:  # a few bundles, which the export must leave out
            attributes["components"] = {"kit": {"options": [{"id": "any"}]}}
        document = {"data": {"type": "product", "attributes": attributes}}
        response = _call(store, stack, "POST", "/pcm/products", body=json.dumps(document))
        if response.status != 201:
            raise RuntimeError(f"seeding failed: {response.body}")
        if number % 500 == 0 or number == products:
            print(f"\rseeding   {_bar(min(number, products), products)}", end="", flush=True)
    print(f"\nseeded {products} products and {bundles} bundles (bundles are never exported)")


def _export(stack: EmbeddedStack, store: DemoStore, filter_text: str | None) -> tuple[dict[str, Any], int]:
    """Run an export over the API, showing progress; returns the final job and the matching count."""
    query = "?" + urllib.parse.urlencode({"filter": filter_text}) if filter_text else ""
    # What the export must hold: the same filter on the product list, bundles left out.
    standard = "eq(product_types,standard)" + (f":{filter_text}" if filter_text else "")
    listed = _call(store, stack, "GET", "/pcm/products?" + urllib.parse.urlencode({"filter": standard}))
    matching = int(listed.json()["meta"]["results"]["total"])
    created = _call(store, stack, "POST", "/pcm/products/export" + query)
    if created.status != 201:
        raise RuntimeError(f"export refused: {created.status} {created.body}")
    job_id = created.json()["data"]["id"]
    print(f"export job {job_id}")
    mark = time.perf_counter()
    while True:
        job: dict[str, Any] = _call(store, stack, "GET", f"/pcm/jobs/{job_id}").json()["data"]
        status = job["attributes"]["status"]
        print(f"\rexporting {status:<8} {time.perf_counter() - mark:6.1f} s", end="", flush=True)
        if status in ("success", "failed", "cancelled"):
            print()
            return job, matching
        time.sleep(0.2)


def _check_files(job: dict[str, Any], products: int) -> tuple[int, int]:
    """Download every part over HTTP; returns (rows, rows that are bundles)."""
    rows_total, bundle_rows = 0, 0
    print(f"{'file':<60} {'bytes':>10} {'rows':>7}")
    for url in job["meta"]["file_locations"]:
        content = requests.get(url, timeout=60).content
        reader = csv.reader(io.StringIO(content.decode("utf-8"), newline=""))
        header = next(reader)
        rows = list(reader)
        rows_total += len(rows)
        bundle_rows += sum(1 for row in rows if int(row[header.index("sku")][4:]) > products)
        name = urllib.parse.urlparse(url).path.rsplit("/", 1)[1]
        print(f"{name:<60} {len(content):>10} {len(rows):>7}")
    return rows_total, bundle_rows


def run(products: int, filter_text: str | None, part_size: int) -> int:
    timings: dict[str, float] = {}
    mark = time.perf_counter()
    # LogLevel WARNING: the handlers' structured logs would drown the demo's own output.
    with embedded_stack(parameters={"PartSize": str(part_size), "LogLevel": "WARNING"}) as stack:
        store = create_store(stack, "demo store")
        print(f"store {store.store_id}")
        print(f"  client_id     {store.client_id}\n  client_secret {store.client_secret}")
        timings["start stack"], mark = time.perf_counter() - mark, time.perf_counter()
        _seed(stack, store, products)
        timings["seed catalogue"], mark = time.perf_counter() - mark, time.perf_counter()
        job, matching = _export(stack, store, filter_text)
        timings["export (POST to success)"], mark = time.perf_counter() - mark, time.perf_counter()
        print(json.dumps(job, indent=2, ensure_ascii=False))
        if job["attributes"]["status"] != "success":
            print(json.dumps(_call(store, stack, "GET", f"/pcm/jobs/{job['id']}/errors").json(), indent=2))
            return 1
        rows, bundle_rows = _check_files(job, products)
        timings["download and check"] = time.perf_counter() - mark

    print("\nphase                          seconds")
    for phase, seconds in timings.items():
        print(f"{phase:<30} {seconds:7.2f}")
    ok = rows == matching and bundle_rows == 0
    print(f"\n{rows} rows exported, {matching} products match the filter: {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=300, help="catalogue size (default 300)")
    parser.add_argument("--filter", default=None, help="export filter, e.g. 'eq(status,live)'")
    parser.add_argument("--part-size", type=int, default=100, help="products per part (default 100)")
    args = parser.parse_args(argv)
    return run(args.products, args.filter, args.part_size)


if __name__ == "__main__":
    sys.exit(main())
