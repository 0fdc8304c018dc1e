"""The fast local DynamoDB: dynalite, what local/dynalite.js adds to it (TransactWriteItems, the item of a
failed condition, bulk loading, dying with its parent), and the real app on it."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from local import dynamodb_server
from local.dynamodb_server import DependencyMissing, DynamoDBServer
from local.stack import IN_PROCESS, EmbeddedStack, apply_environ, embedded_stack, restore_environ
from local.stores import create_store
from product_export.adapters import aws
from tests.support import ApiClient, parse_csv, product

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS: dict[str, Any] = {
    "aws_access_key_id": "local",
    "aws_secret_access_key": "local",
    "region_name": "us-east-1",
}
CANCELLED = "Transaction cancelled, please refer cancellation reasons for specific reasons"
FAILED = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}


@pytest.fixture(scope="module")
def server() -> Iterator[DynamoDBServer]:
    with DynamoDBServer() as running:
        yield running


# --- transactions and failed conditions, on a table of its own per test ------------------------------


@pytest.fixture
def db(server: DynamoDBServer) -> Any:
    """A plain client: the server itself answers TransactWriteItems, no client-side hook."""
    return boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=server.endpoint)


@pytest.fixture
def table(db: Any) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex}"
    db.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    yield name
    db.delete_table(TableName=name)


def key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "x"}}


def item(pk: str, **values: int) -> dict[str, Any]:
    return {**key(pk), **{name: {"N": str(value)} for name, value in values.items()}}


def contents(db: Any, table: str) -> dict[str, dict[str, Any]]:
    return {entry["pk"]["S"]: entry for entry in db.scan(TableName=table, ConsistentRead=True)["Items"]}


def cancelled(db: Any, actions: list[dict[str, Any]]) -> ClientError:
    with pytest.raises(db.exceptions.TransactionCanceledException) as caught:
        db.transact_write_items(TransactItems=actions)
    error: ClientError = caught.value
    return error


def raw_call(server: DynamoDBServer, operation: str, body: Any) -> requests.Response:
    """A DynamoDB call as plain HTTP, as any process (a Lambda worker) makes it: nothing of boto3."""
    return requests.post(
        server.endpoint,
        data=json.dumps(body),
        headers={
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
        },
        timeout=10,
    )


def test_the_server_answers_transact_write_items_over_plain_http(
    server: DynamoDBServer, db: Any, table: str
) -> None:
    done = raw_call(
        server, "TransactWriteItems", {"TransactItems": [{"Put": {"TableName": table, "Item": item("a")}}]}
    )
    assert done.status_code == 200, done.text
    assert done.json() == {}
    assert contents(db, table) == {"a": item("a")}

    put_again = {
        "Put": {"TableName": table, "Item": item("a", n=2), "ConditionExpression": "attribute_not_exists(pk)"}
    }
    refused = raw_call(server, "TransactWriteItems", {"TransactItems": [put_again]})
    assert refused.status_code == 400
    assert refused.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert refused.headers["x-amz-crc32"] == str(zlib.crc32(refused.content))  # botocore checks it
    assert refused.json() == {
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": f"{CANCELLED} [ConditionalCheckFailed]",
        "CancellationReasons": [FAILED],
    }
    assert contents(db, table) == {"a": item("a")}

    not_json = requests.post(
        server.endpoint,
        data="{",
        headers={"X-Amz-Target": "DynamoDB_20120810.TransactWriteItems"},
        timeout=10,
    )
    assert not_json.status_code == 400
    assert not_json.json()["__type"] == "com.amazon.coral.service#SerializationException"


def test_transaction_commits_every_action(db: Any, table: str) -> None:
    db.put_item(TableName=table, Item=item("update", n=1))
    db.put_item(TableName=table, Item=item("delete", n=1))
    db.put_item(TableName=table, Item=item("check", n=1))
    blob = {**key("put"), "data": {"B": b"\x00\xff"}}

    response = db.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": blob, "ConditionExpression": "attribute_not_exists(pk)"}},
            {
                "Update": {
                    "TableName": table,
                    "Key": key("update"),
                    "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {
                "Delete": {
                    "TableName": table,
                    "Key": key("delete"),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": key("check"),
                    "ConditionExpression": "n = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert contents(db, table) == {"put": blob, "update": item("update", n=2), "check": item("check", n=1)}


def test_failed_condition_rolls_back_the_applied_actions(db: Any, table: str) -> None:
    db.put_item(TableName=table, Item=item("replaced", n=1, gone=5))
    db.put_item(TableName=table, Item=item("updated", n=1))
    db.put_item(TableName=table, Item=item("deleted", n=1))
    db.put_item(TableName=table, Item=item("guard", n=1))
    before = contents(db, table)

    error = cancelled(
        db,
        [
            {"Put": {"TableName": table, "Item": item("new", n=1)}},
            {"Put": {"TableName": table, "Item": item("replaced", n=2)}},
            {
                "Update": {
                    "TableName": table,
                    "Key": key("updated"),
                    "UpdateExpression": "SET n = :two, extra = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}},
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": key("created"),
                    "UpdateExpression": "SET n = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}},
                }
            },
            {"Delete": {"TableName": table, "Key": key("deleted")}},
            {
                "Put": {
                    "TableName": table,
                    "Item": item("guard", n=9),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ],
    )

    assert [reason["Code"] for reason in error.response["CancellationReasons"]] == ["None"] * 5 + [
        "ConditionalCheckFailed"
    ]
    assert contents(db, table) == before


def test_cancellation_reasons_are_shaped_like_aws(db: Any, table: str) -> None:
    db.put_item(TableName=table, Item=item("taken", n=1))
    db.put_item(TableName=table, Item=item("checked", n=1))
    condition = {"ConditionExpression": "attribute_not_exists(pk)"}

    error = cancelled(
        db,
        [
            {"Put": {"TableName": table, "Item": item("free"), **condition}},
            {
                "Put": {
                    "TableName": table,
                    "Item": item("taken", n=2),
                    **condition,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {"Delete": {"TableName": table, "Key": key("checked"), **condition}},
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": key("missing"),
                    "ConditionExpression": "n = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        ],
    )

    assert error.response["Error"] == {
        "Code": "TransactionCanceledException",
        "Message": f"{CANCELLED} [None, {', '.join(['ConditionalCheckFailed'] * 3)}]",
    }
    assert error.response["CancellationReasons"] == [
        {"Code": "None"},
        {**FAILED, "Item": item("taken", n=1)},  # ALL_OLD asked for
        FAILED,  # not asked for
        FAILED,  # asked for, but there is no item
    ]
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert contents(db, table) == {"taken": item("taken", n=1), "checked": item("checked", n=1)}


def test_condition_check_changes_nothing(db: Any, table: str) -> None:
    db.put_item(TableName=table, Item=item("a", n=1))
    check = {"ConditionExpression": "n = :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
    db.transact_write_items(
        TransactItems=[
            {"ConditionCheck": {"TableName": table, "Key": key("a"), **check}},
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": key("b"),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )
    assert contents(db, table) == {"a": item("a", n=1)}


def test_validation_like_aws(db: Any, table: str) -> None:
    too_many = [{"Put": {"TableName": table, "Item": item(str(n))}} for n in range(101)]
    same_item = [
        {"Put": {"TableName": table, "Item": item("a", n=1)}},
        {"Update": {"TableName": table, "Key": key("a"), "UpdateExpression": "REMOVE n"}},
    ]
    for actions, message in (
        (too_many, "Member must have length less than or equal to 100"),
        (same_item, "Transaction request cannot include multiple operations on one item"),
    ):
        with pytest.raises(ClientError) as caught:
            db.transact_write_items(TransactItems=actions)
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert message in caught.value.response["Error"]["Message"]
    assert contents(db, table) == {}


def test_other_errors_roll_back_and_pass_through(db: Any, table: str) -> None:
    db.put_item(TableName=table, Item=item("kept", n=1))
    for value, message in (
        (
            {"S": "not a number"},
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or "
            "function: +, operand type: S",
        ),
        # Found only while applying: item "b" has no n. The Put before it is undone.
        ({"N": "1"}, "The provided expression refers to an attribute that does not exist in the item"),
    ):
        with pytest.raises(ClientError) as caught:
            db.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": item("a")}},
                    {"Put": {"TableName": table, "Item": item("kept", n=2)}},
                    {
                        "Update": {
                            "TableName": table,
                            "Key": key("b"),
                            "UpdateExpression": "SET n = n + :x",
                            "ExpressionAttributeValues": {":x": value},
                        }
                    },
                ]
            )
        assert caught.value.response["Error"] == {"Code": "ValidationException", "Message": message}
        assert contents(db, table) == {"kept": item("kept", n=1)}


def test_a_failed_single_write_returns_the_old_item(db: Any, table: str) -> None:
    """dynalite ignores ReturnValuesOnConditionCheckFailure; the launcher adds the item (the jobs table
    tells "no such job" from "not in an allowed state" by it)."""
    db.put_item(TableName=table, Item=item("a", n=1))
    with pytest.raises(db.exceptions.ConditionalCheckFailedException) as caught:
        db.update_item(
            TableName=table,
            Key=key("a"),
            UpdateExpression="SET n = :two",
            ConditionExpression="n = :two",
            ExpressionAttributeValues={":two": {"N": "2"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert caught.value.response["Item"] == item("a", n=1)
    assert caught.value.response["Error"] == {
        "Code": "ConditionalCheckFailedException",
        "Message": "The conditional request failed",
    }
    with pytest.raises(db.exceptions.ConditionalCheckFailedException) as caught:
        db.put_item(TableName=table, Item=item("a"), ConditionExpression="attribute_not_exists(pk)")
    assert "Item" not in caught.value.response


def test_every_single_write_returns_the_item_only_when_asked(db: Any, table: str) -> None:
    db.put_item(TableName=table, Item=item("a", n=1))
    exists_not = {"ConditionExpression": "attribute_not_exists(pk)"}
    writes: list[Callable[..., Any]] = [
        lambda **flag: db.put_item(TableName=table, Item=item("a", n=2), **exists_not, **flag),
        lambda **flag: db.delete_item(TableName=table, Key=key("a"), **exists_not, **flag),
        lambda **flag: db.update_item(
            TableName=table, Key=key("a"), UpdateExpression="REMOVE n", **exists_not, **flag
        ),
    ]
    for write in writes:
        for flag, returned in (({"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}, True), ({}, False)):
            with pytest.raises(db.exceptions.ConditionalCheckFailedException) as caught:
                write(**flag)
            assert caught.value.response.get("Item") == (item("a", n=1) if returned else None)
        with pytest.raises(db.exceptions.ConditionalCheckFailedException) as caught:
            write(ReturnValuesOnConditionCheckFailure="NONE")
        assert "Item" not in caught.value.response
    with pytest.raises(ClientError) as caught:
        db.delete_item(TableName=table, Key=key("a"), ReturnValuesOnConditionCheckFailure="ALL_NEW")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "returnValuesOnConditionCheckFailure" in caught.value.response["Error"]["Message"]
    assert contents(db, table) == {"a": item("a", n=1)}
    missing = {"TableName": table, "Key": key("b"), "ConditionExpression": "attribute_exists(pk)"}
    with pytest.raises(db.exceptions.ConditionalCheckFailedException) as caught:
        db.delete_item(**missing, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert "Item" not in caught.value.response  # no item, none returned


def test_a_cancelled_transaction_reports_every_failure_and_leaves_table_and_index_as_before(
    db: Any,
) -> None:
    name = f"t-{uuid.uuid4().hex}"
    db.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-at",
                "KeySchema": [
                    {"AttributeName": "sk", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )

    def indexed() -> list[dict[str, Any]]:
        found = db.query(
            TableName=name,
            IndexName="by-at",
            KeyConditionExpression="sk = :x",
            ExpressionAttributeValues={":x": {"S": "x"}},
        )
        return list(found["Items"])

    def at(pk: str, value: str, **values: int) -> dict[str, Any]:
        return {**item(pk, **values), "at": {"S": value}}

    for pk in ("moved", "deleted", "guard", "checked"):
        db.put_item(TableName=name, Item=at(pk, f"at-{pk}", n=1))
    before, before_index = contents(db, name), indexed()
    set_at = {"UpdateExpression": "SET #at = :at", "ExpressionAttributeNames": {"#at": "at"}}
    all_old = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}

    error = cancelled(
        db,
        [
            {"Put": {"TableName": name, "Item": at("new", "at-new")}},
            {
                "Update": {
                    "TableName": name,
                    "Key": key("moved"),
                    **set_at,
                    "ExpressionAttributeValues": {":at": {"S": "at-zzz"}},
                }
            },
            {
                "Update": {
                    "TableName": name,
                    "Key": key("guard"),
                    **set_at,
                    "ConditionExpression": "n = :two",
                    "ExpressionAttributeValues": {":at": {"S": "at-guard-2"}, ":two": {"N": "2"}},
                    **all_old,
                }
            },
            {"Delete": {"TableName": name, "Key": key("deleted")}},
            {
                "ConditionCheck": {
                    "TableName": name,
                    "Key": key("checked"),
                    "ConditionExpression": "attribute_not_exists(pk)",
                    **all_old,
                }
            },
            {
                "Delete": {
                    "TableName": name,
                    "Key": key("nothing"),
                    "ConditionExpression": "attribute_exists(pk)",
                    **all_old,
                }
            },
        ],
    )

    codes = [
        "None",
        "None",
        "ConditionalCheckFailed",
        "None",
        "ConditionalCheckFailed",
        "ConditionalCheckFailed",
    ]
    assert error.response["Error"]["Message"] == f"{CANCELLED} [{', '.join(codes)}]"
    assert error.response["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "None"},
        {**FAILED, "Item": at("guard", "at-guard", n=1)},
        {"Code": "None"},
        {**FAILED, "Item": at("checked", "at-checked", n=1)},
        FAILED,  # asked for, but there is no item
    ]
    assert contents(db, name) == before
    assert indexed() == before_index
    db.delete_table(TableName=name)


def test_a_malformed_transaction_applies_nothing(db: Any, table: str) -> None:
    put, one = {"Put": {"TableName": table, "Item": item("a")}}, {"N": "1"}
    for actions, code, message in (
        (
            [put, {"Put": {"TableName": table, "Item": item("b"), "ExpressionAttributeValues": {":x": one}}}],
            "ValidationException",
            "ExpressionAttributeValues can only be specified when using expressions",
        ),
        (
            [put, {"Delete": {"TableName": table, "Key": {"pk": {"S": "b"}}}}],
            "ValidationException",
            "The provided key element does not match the schema",
        ),
        (
            [put, {"Put": {"TableName": "t-no-such-table", "Item": item("b")}}],
            "ResourceNotFoundException",
            "Requested resource not found",
        ),
    ):
        with pytest.raises(ClientError) as caught:
            db.transact_write_items(TransactItems=actions)
        assert caught.value.response["Error"]["Code"] == code
        assert message in caught.value.response["Error"]["Message"]
    assert contents(db, table) == {}


def test_an_action_must_be_exactly_one_kind(server: DynamoDBServer, table: str) -> None:
    """botocore checks this shape itself; other clients do not."""
    put = {"TableName": table, "Item": item("a")}
    for action in ({}, {"Put": put, "Delete": {"TableName": table, "Key": key("b")}}, {"Get": put}):
        answer = raw_call(server, "TransactWriteItems", {"TransactItems": [action]})
        assert answer.status_code == 400
        assert answer.json() == {
            "__type": "com.amazon.coral.validate#ValidationException",
            "message": "TransactItems can only contain one of Check, Put, Update or Delete",
        }


def test_concurrent_transactions_claiming_one_sku_have_one_winner(db: Any, table: str) -> None:
    """As ProductsTable.create: a product and its uniqueness guard, in one transaction."""
    start = threading.Barrier(8)

    def create(number: int) -> str:
        product_id = f"product-{number}"
        start.wait()
        try:
            db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {**key(product_id), "sku": {"S": "SKU-1"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {**key("unique#sku#SKU-1"), "product_id": {"S": product_id}},
                            "ConditionExpression": "attribute_not_exists(pk) OR product_id = :id",
                            "ExpressionAttributeValues": {":id": {"S": product_id}},
                        }
                    },
                ]
            )
        except db.exceptions.TransactionCanceledException as error:
            assert [r["Code"] for r in error.response["CancellationReasons"]] == [
                "None",
                "ConditionalCheckFailed",
            ]
            return "lost"
        return product_id

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(create, range(8)))

    winners = [outcome for outcome in outcomes if outcome != "lost"]
    assert len(winners) == 1
    stored = contents(db, table)
    assert sorted(stored) == sorted([winners[0], "unique#sku#SKU-1"])
    assert stored["unique#sku#SKU-1"]["product_id"] == {"S": winners[0]}


def test_transactions_never_see_each_other_half_applied(db: Any, table: str) -> None:
    """One transaction puts an item, then is cancelled; another, at the same time, puts the same item
    if it does not exist. Serialised, the second always wins and its item stays; interleaved, it may
    see the first one's item, or have it undone under it."""
    db.put_item(TableName=table, Item=item("guard", n=1))
    start = threading.Barrier(2)

    def cancelled_one(pk: str) -> None:
        start.wait()
        with pytest.raises(db.exceptions.TransactionCanceledException):
            db.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": item(pk, n=1)}},
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": key("guard"),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )

    def creating_one(pk: str) -> None:
        start.wait()
        db.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": item(pk, n=2),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            ]
        )

    pks = [f"x{n}" for n in range(40)]
    with ThreadPoolExecutor(2) as pool:
        for pk in pks:
            for done in [pool.submit(cancelled_one, pk), pool.submit(creating_one, pk)]:
                done.result()
    assert contents(db, table) == {"guard": item("guard", n=1)} | {pk: item(pk, n=2) for pk in pks}


# --- the real app on dynalite ---------------------------------------------------------------------


def test_closing_the_stack_removes_its_tables_and_endpoint(server: DynamoDBServer) -> None:
    before = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    with embedded_stack(
        stack_name="short-lived", dynamodb_endpoint=server.endpoint, lambdas=IN_PROCESS
    ) as stack:
        tables = {stack.environment()[v] for v in ("PRODUCTS_TABLE", "JOBS_TABLE")}
    on_server = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=server.endpoint)
    assert not tables & set(on_server.list_tables()["TableNames"])
    assert os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") == before


@pytest.fixture(scope="module")
def app(server: DynamoDBServer) -> Iterator[EmbeddedStack]:
    saved = apply_environ({"AWS_DEFAULT_REGION": "us-east-1"})
    stale = aws.client("dynamodb")  # a handler client cached before the stack: must not be reused
    restore_environ(saved)
    with embedded_stack(
        parameters={"PartSize": "4"}, dynamodb_endpoint=server.endpoint, lambdas=IN_PROCESS
    ) as stack:
        assert aws.client("dynamodb") is not stale
        yield stack


@pytest.fixture
def admin(app: EmbeddedStack) -> ApiClient:
    """A store of its own per test."""
    return ApiClient(app, create_store(app, "dynalite store").admin_token)


def test_the_stack_keeps_its_tables_and_clients_on_dynalite(
    server: DynamoDBServer, app: EmbeddedStack
) -> None:
    stack = app
    on_server = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=server.endpoint)
    names = set(on_server.list_tables()["TableNames"])
    assert {
        stack.environment()[v] for v in ("PRODUCTS_TABLE", "JOBS_TABLE", "APPLICATION_KEYS_TABLE")
    } <= names
    in_moto = boto3.client("dynamodb", endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
    assert in_moto.list_tables()["TableNames"] == []
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == server.endpoint
    assert aws.client("dynamodb").meta.endpoint_url == server.endpoint
    assert stack.client("dynamodb").meta.endpoint_url == server.endpoint
    assert aws.client("s3").meta.endpoint_url.endswith("amazonaws.com")  # S3 and the rest stay on moto


def test_products_list_and_export_on_dynalite(admin: ApiClient) -> None:
    created = [admin.create_product(product(number, sku=f"DYN-{number}")) for number in range(10)]
    duplicate = admin.post(
        "/pcm/products", json_body={"data": {"type": "product", "attributes": product(99, sku="DYN-3")}}
    )
    assert duplicate.status == 409, duplicate.body
    assert duplicate.json()["errors"][0]["source"] == {"pointer": "/data/attributes/sku"}

    live = admin.get("/pcm/products", query={"filter": "eq(status,live)"})
    assert live.status == 200, live.body
    live_ids = {resource["id"] for resource in created if resource["attributes"]["status"] == "live"}
    assert {resource["id"] for resource in live.json()["data"]} == live_ids

    job = admin.wait_for_job(admin.export("eq(status,live)")["id"])
    assert job["attributes"]["status"] == "success", job
    rows = []
    for url in job["meta"]["file_locations"]:
        response = requests.get(url, timeout=30)
        assert response.status_code == 200, response.text
        rows += parse_csv(response.content)[1]
    assert len(job["meta"]["file_locations"]) == 2  # 5 live products, 4 per part
    assert sorted(row["id"] for row in rows) == sorted(live_ids)

    finished = admin.post(f"/pcm/jobs/{job['id']}/cancel")  # a conditional update that needs ALL_OLD
    assert finished.status == 422, finished.body


def test_concurrent_creates_of_one_sku_have_one_winner(admin: ApiClient) -> None:
    start = threading.Barrier(8)

    def create(number: int) -> int:
        start.wait()
        body = {"data": {"type": "product", "attributes": product(1000 + number, sku="RACE-1")}}
        return admin.post("/pcm/products", json_body=body).status

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(create, range(8)))
    assert statuses == [201] + [409] * 7
    listed = admin.get("/pcm/products", query={"filter": "eq(sku,RACE-1)"})
    assert len(listed.json()["data"]) == 1


# --- the server process ---------------------------------------------------------------------------


# --- the bulk-load route the demo's seeding uses ------------------------------------------------------


def bulk_put(server: DynamoDBServer, body: Any) -> requests.Response:
    return requests.post(f"{server.endpoint}{dynamodb_server.BULK_PUT_PATH}", json=body, timeout=10)


def test_bulk_put_stores_items_as_put_item_would_with_their_index_entries(
    server: DynamoDBServer, db: Any
) -> None:
    name = f"t-{uuid.uuid4().hex}"
    db.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-at",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    items: list[dict[str, Any]] = [
        {
            "pk": {"S": "p"},
            "sk": {"S": f"{n:03d}"},
            "at": {"S": f"t{999 - n:03d}"},
            "m": {"M": {"l": {"L": [{"N": "1.5"}, {"BOOL": True}]}}},
        }
        for n in range(120)
    ] + [{"pk": {"S": "p"}, "sk": {"S": "no-index"}, "s": {"SS": ["a", "é"]}}]
    answer = bulk_put(server, {"TableName": name, "Items": items})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"Written": 121}

    stored = db.query(
        TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )
    assert stored["Items"] == sorted(items, key=lambda i: i["sk"]["S"])
    indexed = db.query(
        TableName=name,
        IndexName="by-at",
        KeyConditionExpression="pk = :p AND #at > :t",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":p": {"S": "p"}, ":t": {"S": "t979"}},
    )
    assert [i["sk"]["S"] for i in indexed["Items"]] == [f"{n:03d}" for n in range(19, -1, -1)]
    db.delete_table(TableName=name)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ({"Items": []}, "TableName"),
        ({"TableName": "t-missing-table", "Items": [{"pk": {"S": "a"}, "sk": {"S": "b"}}]}, "not found"),
    ],
)
def test_bulk_put_refuses_bad_requests(server: DynamoDBServer, body: Any, message: str) -> None:
    answer = (
        requests.post(f"{server.endpoint}{dynamodb_server.BULK_PUT_PATH}", data=body, timeout=10)
        if isinstance(body, str)
        else bulk_put(server, body)
    )
    assert answer.status_code == 400
    assert message in answer.json()["message"]


def test_bulk_put_refuses_an_item_without_its_key(server: DynamoDBServer, table: str, db: Any) -> None:
    answer = bulk_put(server, {"TableName": table, "Items": [item("a"), {"pk": {"S": "b"}}]})
    assert answer.status_code == 400
    assert "key" in answer.json()["message"]
    assert answer.json()["Failed"] == 1


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    running = DynamoDBServer(data_dir=tmp_path / "db").start()
    pid = running.pid
    assert pid is not None
    os.kill(pid, 0)  # alive
    client = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=running.endpoint)
    client.create_table(
        TableName="kept",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    running.stop()
    running.stop()  # idempotent
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

    with DynamoDBServer(data_dir=tmp_path / "db") as again:  # LevelDB keeps the data
        client = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=again.endpoint)
        assert client.list_tables()["TableNames"] == ["kept"]


# A process that starts dynalite, forks a child that outlives it (the child's copy of the lifeline must
# not keep dynalite alive), prints both pids and waits to be killed.
_KILLED_PARENT = """
import os, sys, time
from local.dynamodb_server import DynamoDBServer

server = DynamoDBServer().start()
child = os.fork()
if child == 0:
    time.sleep(120)
    os._exit(0)
print(server.pid, child, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    """Not a zombie either: once its parent is gone, dynalite is reaped by whoever adopted it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_dynalite_dies_with_a_parent_killed_by_sigkill() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    dynalite_pid = forked = None
    try:
        assert parent.stdout is not None
        ready, _, _ = select.select([parent.stdout], [], [], 30)
        assert ready, "the parent did not start dynalite within 30 s"
        dynalite_pid, forked = (int(pid) for pid in parent.stdout.readline().split())
        assert alive(dynalite_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while alive(dynalite_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(dynalite_pid), "dynalite outlived its parent"
        assert alive(forked)  # the forked child lives on: dynalite did not wait for it
    finally:
        for pid in (parent.pid, dynalite_pid, forked):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        parent.wait()


def test_a_server_that_dies_reports_its_stderr(server: DynamoDBServer) -> None:
    assert server.port is not None
    with pytest.raises(RuntimeError, match="EADDRINUSE"):
        DynamoDBServer(port=server.port).start()


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (lambda mp: mp.setenv("PATH", "/nonexistent"), "Node.js"),
        (
            lambda mp: mp.setattr(dynamodb_server, "DYNALITE_PACKAGE", Path("/nonexistent/package.json")),
            "dynalite",
        ),
    ],
)
def test_missing_dependencies_say_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch, patch: Callable[[pytest.MonkeyPatch], None], message: str
) -> None:
    patch(monkeypatch)
    with pytest.raises(DependencyMissing, match=message) as caught:
        DynamoDBServer().start()
    assert "make setup" in str(caught.value)
