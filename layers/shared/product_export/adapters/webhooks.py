"""Webhooks: each store's webhook in the jobs table, and the HTTP POST that delivers an event."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from product_export.adapters.aws import client
from product_export.adapters.dynamo_json import decode_item, encode_item
from product_export.notifications.webhooks import Webhook

WEBHOOK_KEY = "settings#webhook"  # sort key beside the store's jobs (pk = store id)


class WebhooksTable:
    """One item per store: its webhook URL and signing secret (encrypted at rest with the table)."""

    def __init__(self, table_name: str) -> None:
        self.table = table_name
        self.dynamodb = client("dynamodb")

    def _key(self, store_id: str) -> dict[str, Any]:
        return {"pk": {"S": store_id}, "sk": {"S": WEBHOOK_KEY}}

    def get_webhook(self, store_id: str) -> Webhook | None:
        response = self.dynamodb.get_item(TableName=self.table, Key=self._key(store_id), ConsistentRead=True)
        if "Item" not in response:
            return None
        item = decode_item(response["Item"])
        return Webhook(
            store_id=store_id, url=item["url"], secret=item["secret"], created_at=item["created_at"]
        )

    def put_webhook(self, webhook: Webhook) -> None:
        item = {"url": webhook.url, "secret": webhook.secret, "created_at": webhook.created_at}
        self.dynamodb.put_item(
            TableName=self.table, Item={**self._key(webhook.store_id), **encode_item(item)}
        )

    def delete_webhook(self, store_id: str) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key=self._key(store_id))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect is the receiver's answer, not an invitation to post the event somewhere else.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpPoster:
    """POST with certificate verification, no redirects, no proxies from the environment."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(_NoRedirects(), urllib.request.ProxyHandler({}))

    def post(self, url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            error.close()
            return int(error.code)
