"""Local-only emulation of DynamoDB features dynalite lacks: TransactWriteItems, and the old item of a
failed conditional write (``ReturnValuesOnConditionCheckFailure="ALL_OLD"``).

FOR THE EMBEDDED LOCAL STACK ONLY (one process). ``install_transactions()`` hooks botocore's events of a
boto3 session, so every DynamoDB client that session creates afterwards answers ``TransactWriteItems``
by running the actions itself, against the same endpoint, with plain item calls:

- transactions are serialised by one lock per process; each action runs with its own condition and
  ``ReturnValues="ALL_OLD"``; if any condition fails, the actions already applied are undone (old
  images put back, items that did not exist deleted) and the call raises ``TransactionCanceledException``
  with AWS's message and ``CancellationReasons`` (one per action, ``Item`` with ``ALL_OLD``);
- every action runs even after a failure, so every failing condition is reported, as AWS does;
- more than 100 actions, or two actions on one item, are a ``ValidationException`` as on AWS.

What it is not: atomic with respect to plain writes (PutItem, ...) or to other processes, which may
see a transaction half applied and may be overwritten by a rollback; ``ClientRequestToken``
idempotency is not implemented. AWS, moto and DynamoDB Local implement transactions themselves: do not
install this against them.

botocore copies a session's event handlers into each client it creates: clients created before
``install_transactions()`` do not get the emulation (install it first, then create the clients or clear
a client cache), and clients created while it was installed fall back to plain calls once it is removed.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.exceptions import ClientError

MAX_ACTIONS = 100
_PARAMS = "local_dynamodb_api_params"  # where the request's parameters wait in botocore's request context
_LOCK = threading.RLock()  # one per process: transactions never interleave
_SINGLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
_CONDITION_FAILED = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
_EXPRESSIONS = ("ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues")
_ACTION_KEYS = {
    "Put": ("TableName", "Item", *_EXPRESSIONS),
    "Update": ("TableName", "Key", "UpdateExpression", *_EXPRESSIONS),
    "Delete": ("TableName", "Key", *_EXPRESSIONS),
    "ConditionCheck": ("TableName", "Key", *_EXPRESSIONS),
}
_NOOP_ATTRIBUTE = "__local_transaction_noop__"


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def _response(url: str, status: int, parsed: dict[str, Any], body: Mapping[str, Any]) -> tuple[Any, Any]:
    """What a before-call handler returns to stand in for the HTTP call: (http response, parsed)."""
    request_id = uuid.uuid4().hex.upper()
    headers = HTTPHeaders()
    headers["x-amzn-requestid"] = request_id
    headers["content-type"] = "application/x-amz-json-1.0"
    parsed["ResponseMetadata"] = {
        "RequestId": request_id,
        "HTTPStatusCode": status,
        "HTTPHeaders": dict(headers.items()),
        "RetryAttempts": 0,
    }
    return AWSResponse(url, status, headers, _Raw(json.dumps(body).encode())), parsed


def _error(url: str, code: str, message: str, **extra: Any) -> tuple[Any, Any]:
    parsed = {"Error": {"Code": code, "Message": message}, "Message": message, **extra}
    return _response(
        url, 400, parsed, {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
    )


def _base_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class _Emulator:
    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        self._key_names: dict[tuple[str, str], list[str]] = {}
        self._guard = threading.Lock()
        self.active = True  # clients keep copies of the handlers: uninstall makes them pass through

    # --- plumbing -------------------------------------------------------------------------------

    def remember_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """before-parameter-build handler: keeps the call's parameters for the later handlers."""
        context[_PARAMS] = params

    def client(self, url: str, context: Mapping[str, Any], request_signer: Any = None) -> Any:
        """A plain client of the endpoint the intercepted call was going to (its credentials, if known)."""
        credentials: dict[str, str] = {}
        frozen = getattr(getattr(request_signer, "_credentials", None), "get_frozen_credentials", None)
        if frozen is not None:
            current = frozen()
            credentials = {
                "aws_access_key_id": current.access_key,
                "aws_secret_access_key": current.secret_key,
            }
            if current.token:
                credentials["aws_session_token"] = current.token
        region = str(context.get("client_region") or self.session.region_name or "us-east-1")
        cache_key = (_base_url(url), region, credentials.get("aws_access_key_id"))
        with self._guard:
            if cache_key not in self._clients:
                self._clients[cache_key] = self.session.client(  # type: ignore[call-overload]
                    "dynamodb",
                    endpoint_url=cache_key[0],
                    region_name=region,
                    config=Config(retries={"mode": "standard", "max_attempts": 5}),
                    **credentials,
                )
            return self._clients[cache_key]

    def key_of(self, client: Any, table: str, item: Mapping[str, Any]) -> dict[str, Any]:
        """The primary key attributes of ``item`` in ``table``."""
        cache_key = (client.meta.endpoint_url, table)
        if cache_key not in self._key_names:
            schema = client.describe_table(TableName=table)["Table"]["KeySchema"]
            self._key_names[cache_key] = [element["AttributeName"] for element in schema]
        return {name: item[name] for name in self._key_names[cache_key] if name in item}

    def current(self, client: Any, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = client.get_item(TableName=table, Key=key, ConsistentRead=True).get(
            "Item"
        )
        return item

    # --- TransactWriteItems ---------------------------------------------------------------------

    def transact_write_items(
        self, params: dict[str, Any], context: dict[str, Any], request_signer: Any = None, **_: Any
    ) -> tuple[Any, Any] | None:
        """before-call handler: performs the transaction and returns its response (no HTTP call)."""
        api = context.get(_PARAMS)
        if api is None or not self.active:
            return None  # not seen by before-parameter-build, or uninstalled: let the real call go
        url = str(params["url"])
        client = self.client(url, context, request_signer)
        actions: list[dict[str, Any]] = list(api.get("TransactItems") or [])
        if len(actions) > MAX_ACTIONS:
            return _error(
                url,
                "ValidationException",
                "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_ACTIONS}",
            )
        try:
            targets = [self._target(client, action) for action in actions]
        except ClientError as error:
            return _error(url, error.response["Error"]["Code"], error.response["Error"].get("Message", ""))
        if len(set(targets)) != len(targets):
            return _error(
                url,
                "ValidationException",
                "Transaction request cannot include multiple operations on one item",
            )
        with _LOCK:
            return self._run(client, url, actions)

    def _target(self, client: Any, action: Mapping[str, Any]) -> tuple[str, str]:
        if len(action) != 1 or next(iter(action)) not in _ACTION_KEYS:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationException",
                        "Message": "TransactItems can only contain one of Check, Put, Update or Delete",
                    }
                },
                "TransactWriteItems",
            )
        kind, spec = next(iter(action.items()))
        key = self._key(client, kind, spec)
        return spec["TableName"], json.dumps(key, sort_keys=True, default=repr)

    def _key(self, client: Any, kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        if kind == "Put":
            return self.key_of(client, spec["TableName"], spec["Item"])
        return dict(spec["Key"])

    def _run(self, client: Any, url: str, actions: list[dict[str, Any]]) -> tuple[Any, Any]:
        undo: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        reasons: list[dict[str, Any]] = []
        for action in actions:
            kind, spec = next(iter(action.items()))
            request = {k: spec[k] for k in _ACTION_KEYS[kind] if k in spec}
            try:
                self._apply(client, kind, request, undo)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    self._rollback(client, undo)
                    return _response(url, 400, dict(error.response), {})
                reason: dict[str, Any] = dict(_CONDITION_FAILED)
                if spec.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                    old = self.current(client, spec["TableName"], self._key(client, kind, spec))
                    if old is not None:
                        reason["Item"] = old
                reasons.append(reason)
            else:
                reasons.append({"Code": "None"})
        if all(reason["Code"] == "None" for reason in reasons):
            return _response(url, 200, {}, {})
        self._rollback(client, undo)
        codes = ", ".join(reason["Code"] for reason in reasons)
        message = f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
        return _error(url, "TransactionCanceledException", message, CancellationReasons=reasons)

    def _apply(
        self,
        client: Any,
        kind: str,
        request: dict[str, Any],
        undo: list[tuple[str, dict[str, Any], dict[str, Any] | None]],
    ) -> None:
        """Runs one action; records how to undo it."""
        table = request["TableName"]
        if kind == "Put":
            old = client.put_item(**request, ReturnValues="ALL_OLD").get("Attributes")
            undo.append((table, self.key_of(client, table, request["Item"]), old))
        elif kind == "Update":
            old = client.update_item(**request, ReturnValues="ALL_OLD").get("Attributes")
            undo.append((table, request["Key"], old))
        elif kind == "Delete":
            old = client.delete_item(**request, ReturnValues="ALL_OLD").get("Attributes")
            if old is not None:
                undo.append((table, request["Key"], old))
        else:  # ConditionCheck: evaluate the condition without changing the item
            self._check(client, request)

    def _check(self, client: Any, request: dict[str, Any]) -> None:
        """A condition check as a write that changes nothing.

        On an existing item: an update that removes an attribute no item has, conditional on the check
        and on the item still existing. On a missing item: a conditional delete (a no-op either way).
        """
        table, key = request["TableName"], request["Key"]
        if self.current(client, table, key) is None:
            client.delete_item(**request)
            return
        names: dict[str, str] = dict(request.get("ExpressionAttributeNames") or {})
        names |= {"#local_noop": _NOOP_ATTRIBUTE, "#local_key": next(iter(key))}
        update = {
            **request,
            "UpdateExpression": "REMOVE #local_noop",
            "ConditionExpression": f"({request['ConditionExpression']}) AND attribute_exists(#local_key)",
            "ExpressionAttributeNames": names,
        }
        client.update_item(**update)

    def _rollback(self, client: Any, undo: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> None:
        for table, key, old in reversed(undo):
            if old is None:
                client.delete_item(TableName=table, Key=key)
            else:
                client.put_item(TableName=table, Item=old)
        undo.clear()

    # --- the old item of a failed conditional write ---------------------------------------------

    def add_condition_failure_item(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        """after-call handler: adds ``Item`` to a ConditionalCheckFailedException that asked for ALL_OLD."""
        api = context.get(_PARAMS) or {}
        if (
            not self.active
            or api.get("ReturnValuesOnConditionCheckFailure") != "ALL_OLD"
            or http_response is None
            or http_response.status_code < 300
            or parsed.get("Error", {}).get("Code") != "ConditionalCheckFailedException"
            or "Item" in parsed
        ):
            return
        client = self.client(str(http_response.url), context)
        table = api["TableName"]
        key = api["Key"] if "Key" in api else self.key_of(client, table, api["Item"])
        old = self.current(client, table, key)
        if old is not None:
            parsed["Item"] = old


def install_transactions(session: boto3.Session | None = None) -> Callable[[], None]:
    """Emulates TransactWriteItems (and ALL_OLD on failed conditions) for clients ``session`` creates
    from now on; returns the function that removes the emulation again.

    ``session`` defaults to boto3's default session (created if there is none yet), the one plain
    ``boto3.client(...)`` uses. Local stack only: see the module's documentation.
    """
    if session is None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        assert session is not None
    events = session.events
    emulator = _Emulator(session)
    handlers: list[tuple[str, Callable[..., Any]]] = [
        ("before-parameter-build.dynamodb.TransactWriteItems", emulator.remember_params),
        ("before-call.dynamodb.TransactWriteItems", emulator.transact_write_items),
    ]
    for operation in _SINGLE_WRITES:
        handlers.append((f"before-parameter-build.dynamodb.{operation}", emulator.remember_params))
        handlers.append((f"after-call.dynamodb.{operation}", emulator.add_condition_failure_item))
    for event_name, handler in handlers:
        events.register_last(event_name, handler)

    def uninstall() -> None:
        emulator.active = False
        for event_name, handler in handlers:
            events.unregister(event_name, handler)

    return uninstall
