"""The straightforward export script a user would write instead of calling the export API.

    python bench/export_script.py --table T --store S --bucket B [--prefix P] [--rows-per-file 50000]

One process, stock boto3, no tricks: Query each of the store's 16 shard partitions with the
standard client's paginator, turn every item into Python values with boto3's TypeDeserializer,
flatten it into a dict, write CSV files of 50,000 rows with csv.DictWriter into a temporary
directory and upload each finished file with ``upload_file``. The endpoints and credentials come
from the environment (``AWS_ENDPOINT_URL_DYNAMODB``, ``AWS_ENDPOINT_URL_S3``, as the local stack
sets them). Prints one JSON line: rows, files, bytes and the seconds from its first request to
its last upload (imports excluded, as the workflow's handlers are measured warm).

bench/end_to_end.py runs it against the same local DynamoDB and S3 as the workflow; it is
deliberately not a part of the product and imports nothing from it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

SHARDS = 64  # the table's layout: pk = "<store id>#<00..63>", sk = product id (README, data model)
BASE_FIELDS = [
    "id",
    "external_ref",
    "name",
    "description",
    "slug",
    "status",
    "commodity_type",
    "upc_ean",
    "mpn",
    "sku",
    "tags",
    "main_image_id",
    "_created_at",
    "_updated_at",
]
# A user's script names its own catalogue's columns; these are local/seed.py's templates and attributes.
CATALOGUE_FIELDS = [
    "template:care:wash",
    "template:shoes:colour",
    "template:shoes:size",
    "template:shoes:waterproof",
    "shopper_attributes.fit",
    "admin_attributes.cost",
    "admin_attributes.supplier",
]


def flatten(product: dict[str, Any]) -> dict[str, Any]:
    row = {field: product.get(field) for field in BASE_FIELDS}
    row["tags"] = ",".join(product.get("tags") or [])
    row["_created_at"] = product.get("created_at")
    row["_updated_at"] = product.get("updated_at")
    for template, values in (product.get("extensions") or {}).items():
        for name, value in values.items():
            row[f"template:{template}:{name}"] = value
    for kind in ("shopper_attributes", "admin_attributes"):
        for name, value in (product.get(kind) or {}).items():
            row[f"{kind}.{name}"] = value
    return row


def products(dynamodb: Any, table: str, store: str) -> Any:
    deserializer = TypeDeserializer()
    paginator = dynamodb.get_paginator("query")
    for shard in range(SHARDS):
        pages = paginator.paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{store}#{shard:02d}"}},
        )
        for page in pages:
            for item in page["Items"]:
                product = {name: deserializer.deserialize(value) for name, value in item.items()}
                if "bundle" in product.get("product_types", []):
                    continue  # bundles are not exported
                yield product


def export(table: str, store: str, bucket: str, prefix: str, rows_per_file: int) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    dynamodb = boto3.client("dynamodb")
    s3 = boto3.client("s3")
    fields = BASE_FIELDS + CATALOGUE_FIELDS
    rows, files, size = 0, 0, 0
    with tempfile.TemporaryDirectory() as folder:
        out: Any = None
        writer: csv.DictWriter[str] | None = None
        path = ""

        def upload() -> None:
            nonlocal size
            out.close()
            size += os.path.getsize(path)
            s3.upload_file(path, bucket, f"{prefix}part_{files}.csv")
            os.remove(path)

        for product in products(dynamodb, table, store):
            if writer is None or rows % rows_per_file == 0:
                if writer is not None:
                    upload()
                files += 1
                path = os.path.join(folder, f"part_{files}.csv")
                out = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in upload()
                writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
                writer.writeheader()
            writer.writerow(flatten(product))
            rows += 1
        if writer is not None:
            upload()
    return {
        "rows": rows,
        "files": files,
        "bytes": size,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="script/")
    parser.add_argument("--rows-per-file", type=int, default=50_000)
    args = parser.parse_args(argv)
    result = export(args.table, args.store, args.bucket, args.prefix, args.rows_per_file)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
