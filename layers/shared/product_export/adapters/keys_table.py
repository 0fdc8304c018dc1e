"""Application keys: client id -> hashed secret and store."""

from __future__ import annotations

from dataclasses import dataclass

from product_export.adapters.aws import client
from product_export.adapters.dynamo_json import decode_item, encode_item

MAX_KEY_BYTES = 2048  # DynamoDB's limit on a partition key value


@dataclass(frozen=True)
class ApplicationKey:
    client_id: str
    secret_hash: str
    store_id: str
    name: str
    created_at: str


class KeysTable:
    def __init__(self, table_name: str) -> None:
        self.table = table_name
        self.dynamodb = client("dynamodb")

    def get(self, client_id: str) -> ApplicationKey | None:
        if len(client_id.encode()) > MAX_KEY_BYTES:
            return None  # DynamoDB refuses the lookup (ValidationException); no such key is stored
        response = self.dynamodb.get_item(TableName=self.table, Key={"client_id": {"S": client_id}})
        if "Item" not in response:
            return None
        item = decode_item(response["Item"])
        return ApplicationKey(
            client_id=item["client_id"],
            secret_hash=item["secret_hash"],
            store_id=item["store_id"],
            name=item.get("name", ""),
            created_at=item.get("created_at", ""),
        )

    def put(self, key: ApplicationKey) -> None:
        self.dynamodb.put_item(
            TableName=self.table,
            Item=encode_item(key.__dict__),
            ConditionExpression="attribute_not_exists(client_id)",
        )

    def delete(self, client_id: str) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key={"client_id": {"S": client_id}})
