"""A varied demo catalogue, loaded straight into the products table with the catalogue's own code.

Every product is validated by the same model as POST /pcm/products and built by the same item
builder, uniqueness guards included; only the write differs: one process per core sends them,
500 at a time, to the local DynamoDB's bulk-load route (dynalite's own PutItem for each item, see
``local/dynalite.js``), which is about twice as fast as BatchWriteItem on dynalite's single core.
Texts carry commas, quotes, newlines and unicode; statuses mix draft and live; a few bundles are
added, which the export must leave out.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import urllib.parse
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import boto3
import msgspec

from local.dynamodb_server import BULK_PUT_PATH
from product_export.adapters.products_table import ProductsTable
from product_export.catalogue.models import ProductData
from product_export.catalogue.products import new_item

BULK_ITEMS = 500  # items per bulk-load request: ~0.5 MB bodies


def demo_product(number: int) -> dict[str, Any]:
    """The attributes of product ``number``."""
    attributes: dict[str, Any] = {
        "name": f'Trail shoe {number}, "Summit" — ünïcødé',
        "commodity_type": "physical" if number % 4 else "digital",
        "sku": f"SKU-{number:07d}",
        "status": "live" if number % 3 else "draft",
        "description": f"Light, grippy shoe #{number}.\nSecond line with 'quotes', and a comma.",
        "slug": f"trail-shoe-{number}",
        "external_ref": f"erp-{number:07d}",
        "upc_ean": f"{number:013d}",
        "mpn": f"TS-{number}",
        "tags": [f"size{number % 12}", "shoes"],
        "extensions": {
            "products(shoes)": {
                "size": 36 + number % 12,
                "colour": f"colour {number % 9}",
                "waterproof": bool(number % 2),
            }
        },
        "shopper_attributes": {"fit": ["narrow", "regular", "wide"][number % 3]},
        "admin_attributes": {"cost": f"{number % 100}.50", "supplier": "Acme, Inc."},
    }
    if number % 5 == 0:
        attributes["extensions"]["products(care)"] = {"wash": "cold, gentle"}
    return attributes


def demo_bundle(number: int) -> dict[str, Any]:
    return demo_product(number) | {
        "components": {"kit": {"name": "Kit", "options": [{"id": "any", "type": "product"}]}}
    }


def _items(store_id: str, numbers: Iterable[int], bundle: bool) -> Iterator[dict[str, Any]]:
    build = demo_bundle if bundle else demo_product
    for number in numbers:
        yield new_item(store_id, ProductData.model_validate({"type": "product", "attributes": build(number)}))


class BulkLoader:
    """Items to one table of the local DynamoDB through its bulk-load route, BULK_ITEMS at a time.

    The route (``local/dynalite.js``) stores each item with dynalite's own PutItem, indexes
    included, without the DynamoDB API's per-request overhead; the bodies are written as JSON text
    here (msgspec) rather than serialised by boto3 (which costs more CPU than storing the item).
    """

    def __init__(self, table: str) -> None:
        self.table = table
        endpoint = boto3.session.Session().client("dynamodb").meta.endpoint_url
        parsed = urllib.parse.urlsplit(endpoint)
        self.connection = http.client.HTTPConnection(parsed.netloc, timeout=120)

    def put_all(self, items: Iterable[dict[str, Any]]) -> int:
        written, batch = 0, []
        for item in items:
            batch.append(item)
            if len(batch) == BULK_ITEMS:
                written += self._put(batch)
                batch = []
        return written + (self._put(batch) if batch else 0)

    def _put(self, items: list[dict[str, Any]]) -> int:
        body = msgspec.json.encode({"TableName": self.table, "Items": items})
        self.connection.request(
            "POST", BULK_PUT_PATH, body=body, headers={"Content-Type": "application/json"}
        )
        response = self.connection.getresponse()
        answer = json.loads(response.read() or b"{}")
        if response.status != 200:
            raise RuntimeError(f"the local DynamoDB refused a bulk load ({response.status}): {answer}")
        return int(answer["Written"])


def _load(store_id: str, numbers: range, bundle: bool) -> int:
    """One worker process's share: build, encode and send, one bulk request at a time (the other
    worker's request keeps the server busy meanwhile; a second thread here only adds GIL switching)."""
    table = ProductsTable(os.environ["PRODUCTS_TABLE"])  # the stack's, inherited from the parent
    BulkLoader(table.table).put_all(table.encoded_for_load(store_id, _items(store_id, numbers, bundle)))
    return len(numbers)


def seed(store_id: str, products: int, *, bundles: int = 0) -> int:
    """Load products 1..N and ``bundles`` bundles (numbered after them); returns how many.

    Building and encoding items is CPU work, so it is spread over processes (one per core); the
    environment (table name, DynamoDB endpoint, credentials) is inherited by them.
    """
    processes = max(min(os.cpu_count() or 1, 4), 1)
    step = -(-products // processes) or 1
    work = [(range(start, min(start + step, products + 1)), False) for start in range(1, products + 1, step)]
    work.append((range(products + 1, products + bundles + 1), True))
    context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        written = pool.map(
            _load, *zip(*[(store_id, numbers, bundle) for numbers, bundle in work], strict=True)
        )
        return sum(written)
