"""Workarounds for moto gaps that would otherwise make the emulation differ from AWS."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.parser.utils import TMP_THREADS

_ORIGINAL_START = StepFunctionsParserBackend.start_execution
_ORIGINAL_DYNAMODB_CALL = DynamoHandler.call_action
_ORIGINAL_QUERY = Table.query
_ORIGINAL_ALL_ITEMS = Table.all_items
_IN_QUERY = threading.local()
# moto's DynamoDB keeps items as live dicts: a GetItem serialising an item while another thread's
# UpdateItem adds an attribute to it fails ("dictionary changed size during iteration"). DynamoDB
# makes each item read and write atomic; one request at a time does here too.
_DYNAMODB_REQUEST = threading.RLock()
_LOCK = threading.Lock()
_USERS = 0


def _start_execution(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: Any = None,
    execution_input: Any = None,
    trace_header: Any = None,
) -> Any:
    # moto 5.2's ASL backend names an unnamed execution "None", so a second one is ExecutionAlreadyExists.
    # StartExecution without a name gets a UUID on AWS.
    return _ORIGINAL_START(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)


def _dynamodb_call_action(self: DynamoHandler) -> Any:
    with _DYNAMODB_REQUEST:
        return _ORIGINAL_DYNAMODB_CALL(self)


def _all_items(self: Table) -> list[Item]:
    if getattr(_IN_QUERY, "active", False):
        if self.range_key_attr:
            return [item for partition in self.items.values() for item in partition.values()]
        return list(self.items.values())  # type: ignore[arg-type]  # keyed by hash key alone: items
    return _ORIGINAL_ALL_ITEMS(self)


def _query(self: Table, *args: Any, **kwargs: Any) -> Any:
    # Speed only: moto's Query sorts the whole table (every key compared through its type casts)
    # before keeping one partition's items, which it then sorts again itself. With 64 shards a
    # store's export sends hundreds of Queries, so the first sort is skipped.
    _IN_QUERY.active = True
    try:
        return _ORIGINAL_QUERY(self, *args, **kwargs)
    finally:
        _IN_QUERY.active = False


def join_workflow_threads(timeout: float) -> bool:
    """Waits for moto's ASL worker threads (executions, Map iterations); True when all have ended."""
    deadline = time.monotonic() + timeout
    for thread in list(TMP_THREADS):
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    for thread in [t for t in TMP_THREADS if t.ident is not None and not t.is_alive()]:
        TMP_THREADS.remove(thread)  # moto never prunes the list
    return not any(thread.is_alive() for thread in TMP_THREADS)


def install() -> None:
    global _USERS  # noqa: PLW0603 - reference count of the stacks using the fixes
    with _LOCK:
        _USERS += 1
        StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]
        DynamoHandler.call_action = _dynamodb_call_action  # type: ignore[method-assign]
        Table.query = _query  # type: ignore[method-assign]
        Table.all_items = _all_items  # type: ignore[method-assign]


def uninstall() -> None:
    global _USERS  # noqa: PLW0603
    with _LOCK:
        _USERS = max(0, _USERS - 1)
        if _USERS == 0:
            StepFunctionsParserBackend.start_execution = _ORIGINAL_START  # type: ignore[method-assign]
            DynamoHandler.call_action = _ORIGINAL_DYNAMODB_CALL  # type: ignore[method-assign]
            Table.query = _ORIGINAL_QUERY  # type: ignore[method-assign]
            Table.all_items = _ORIGINAL_ALL_ITEMS  # type: ignore[method-assign]
