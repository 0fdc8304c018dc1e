"""How fast the local DynamoDB (dynalite) is: BatchWriteItem and Query paging through one partition.

    .venv/bin/python bench/local_dynamodb.py [--items 20000] [--item-bytes 1000] [--writers 1] [--path DIR]

Prints items/s; asserts nothing. One boto3 client; Query from one thread, as a part writer reads.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from local.dynamodb_server import DynamoDBServer

TABLE = "bench"


def _client(endpoint: str) -> Any:
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    return session.client("dynamodb", endpoint_url=endpoint)


def _items(count: int, size: int) -> list[dict[str, Any]]:
    padding = "x" * max(0, size - 60)
    return [
        {
            "pk": {"S": "store#00"},
            "sk": {"S": f"{n:08d}"},
            "name": {"S": f"Product {n}"},
            "data": {"S": padding},
        }
        for n in range(count)
    ]


def batch_write(client: Any, items: list[dict[str, Any]], writers: int = 1) -> float:
    """BatchWriteItem in batches of 25, from ``writers`` threads sharing the client."""

    def write(start: int) -> None:
        pending: dict[str, Any] = {TABLE: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(0, len(items), 25)))
    return time.perf_counter() - started


def query_all(client: Any) -> tuple[int, int, float]:
    started, count, pages = time.perf_counter(), 0, 0
    request: dict[str, Any] = {
        "TableName": TABLE,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "store#00"}},
    }
    while True:
        page = client.query(**request)
        count, pages = count + len(page["Items"]), pages + 1
        if "LastEvaluatedKey" not in page:
            return count, pages, time.perf_counter() - started
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--item-bytes", type=int, default=1000)
    parser.add_argument("--writers", type=int, default=1, help="threads for BatchWriteItem (default 1)")
    parser.add_argument("--path", type=Path, default=None, help="LevelDB directory (default: in memory)")
    args = parser.parse_args()

    items = _items(args.items, args.item_bytes)
    with DynamoDBServer(data_dir=args.path) as server:
        client = _client(server.endpoint)
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        storage = f"LevelDB in {args.path}" if args.path else "in memory"
        print(f"dynalite ({storage}), {args.items} items of about {args.item_bytes} bytes, one partition")
        seconds = batch_write(client, items, args.writers)
        rate = args.items / seconds
        print(f"  BatchWriteItem: {seconds:6.2f} s  {rate:8.0f} items/s  ({args.writers} thread(s))")
        count, pages, seconds = query_all(client)
        rate = count / seconds
        print(f"  Query paging:   {seconds:6.2f} s  {rate:8.0f} items/s  ({count} items, {pages} pages)")
        count, pages, seconds = query_all(client)
        print(f"  Query again:    {seconds:6.2f} s  {count / seconds:8.0f} items/s")


if __name__ == "__main__":
    main()
