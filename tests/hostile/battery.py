"""Shared parts of the hostile-input battery: settings, the no-change and JSON:API checks, the count.

Hypothesis profiles: ``hostile-ci`` (default; bounded so the battery stays well under 90 s in CI, and
derandomized: the same cases every run) and ``hostile-deep`` (``HOSTILE_PROFILE=hostile-deep pytest
tests/hostile``) for a long local run with new random inputs each time.
Every generated case is counted; ``pytest tests/hostile`` prints the counts at the end.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings

from local.stack import EmbeddedStack
from product_export.jobs.models import OPEN_ATTRIBUTE

settings.register_profile(
    "hostile-ci",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
    # CI runs the same generated cases every time, so a red CI is a regression, not a new draw;
    # exploring new inputs is the deep profile's job.
    derandomize=True,
)
settings.register_profile(
    "hostile-deep", settings.get_profile("hostile-ci"), max_examples=400, derandomize=False
)
PROFILE = os.environ.get("HOSTILE_PROFILE", "hostile-ci")
HOSTILE = settings.get_profile(PROFILE)

CASES: Counter[str] = Counter()
WAITED: Counter[str] = Counter()  # seconds spent letting accepted exports finish, by worker
LOCK = threading.Lock()


def count_case(kind: str) -> None:
    with LOCK:
        CASES[kind] += 1


def count_answer(status: int) -> None:
    with LOCK:
        CASES[f"answers {status // 100}xx"] += 1


# --- answers --------------------------------------------------------------------------------------
def check_answer(status: int, headers: Mapping[str, Any], body: str, ok: set[int], what: str) -> None:
    """Never a 5xx; a 2xx only from ``ok``; every 4xx a JSON:API error document with its status.

    ``headers`` values are strings or (schemathesis) lists of strings."""
    assert status < 500, f"{what}: server error {status}: {body[:500]}"
    if 200 <= status < 300:
        assert status in ok, f"{what}: unexpected {status}: {body[:300]}"
        return
    assert 400 <= status < 500, f"{what}: {status}"
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/json"), f"{what}: {status} as {content_type!r}"
    document = json.loads(body)
    errors = document["errors"]
    assert isinstance(errors, list) and errors, f"{what}: {body[:300]}"
    for error in errors:
        assert error["status"] == str(status), f"{what}: {body[:300]}"
        assert isinstance(error["title"], str) and error["title"], f"{what}: {body[:300]}"
        assert set(error) <= {"status", "title", "detail", "source", "code", "meta"}, body[:300]


# --- the stored state -----------------------------------------------------------------------------
@dataclass(frozen=True)
class State:
    items: frozenset[tuple[str, str]]  # (table, item as canonical JSON)
    objects: frozenset[tuple[str, str, str]]  # (bucket, key, ETag)

    def difference(self, other: State) -> str:
        gone = sorted(self.items - other.items)[:3] + sorted(self.objects - other.objects)[:3]
        new = sorted(other.items - self.items)[:3] + sorted(other.objects - self.objects)[:3]
        return f"removed or changed: {gone}; added or changed: {new}"


def state_of(stack: EmbeddedStack, clients: tuple[Any, Any] | None = None) -> State:
    """Every item of every template table and every object of every template bucket."""
    dynamodb, s3 = clients or (stack.client("dynamodb"), stack.client("s3"))
    items: set[tuple[str, str]] = set()
    for logical_id, _ in stack.template.tables():
        table = stack.refs[logical_id]
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items |= {(table, json.dumps(item, sort_keys=True)) for item in page["Items"]}
    objects: set[tuple[str, str, str]] = set()
    for logical_id, _ in stack.template.buckets():
        bucket = stack.refs[logical_id]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            objects |= {(bucket, o["Key"], o["ETag"]) for o in page.get("Contents", [])}
    return State(frozenset(items), frozenset(objects))


def settle(stack: EmbeddedStack, timeout: float = 60, clients: tuple[Any, Any] | None = None) -> None:
    """Waits until no export runs: no execution RUNNING, then no job pending or started."""
    assert stack.state_machine_arn is not None
    stepfunctions, dynamodb = clients or (stack.client("stepfunctions"), stack.client("dynamodb"))
    jobs_table = stack.refs["JobsTable"]
    deadline = time.monotonic() + timeout
    while True:
        running = stepfunctions.list_executions(
            stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING"
        )["executions"]
        # Scanned only once no execution runs: moto's tables are not safe to scan during writes.
        open_jobs = (
            -1
            if running
            else dynamodb.scan(
                TableName=jobs_table,
                FilterExpression="attribute_exists(#open)",
                ExpressionAttributeNames={"#open": OPEN_ATTRIBUTE},
                Select="COUNT",
                ConsistentRead=True,
            )["Count"]
        )
        if open_jobs == 0:
            return
        assert time.monotonic() < deadline, f"exports still running: {len(running)}, open jobs {open_jobs}"
        time.sleep(0.05)


class Quiet:
    """The no-change check: ``before()`` settles running exports (only after a request that may have
    started one) and snapshots; ``after()`` asserts that a rejected request changed nothing."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.dirty = True
        self.snapshot: State | None = None
        # botocore clients are slow to build: one set per check.
        self.storage = (stack.client("dynamodb"), stack.client("s3"))
        self.workflow = (stack.client("stepfunctions"), self.storage[0])

    def before(self) -> None:
        # After a rejected request the state is the snapshot it was compared with (nothing runs in
        # the background then), so a new snapshot is needed only after an accepted request.
        if self.dirty or self.snapshot is None:
            start = time.monotonic()
            settle(self.stack, clients=self.workflow)
            with LOCK:
                WAITED["seconds"] += time.monotonic() - start
            self.dirty = False
            self.snapshot = state_of(self.stack, self.storage)

    def after(self, status: int, what: str) -> None:
        assert self.snapshot is not None
        if status < 400:
            self.dirty = True  # an accepted request may change state and start work
            return
        after = state_of(self.stack, self.storage)
        assert after == self.snapshot, f"{what}: rejected with {status} but state changed: " + (
            self.snapshot.difference(after)
        )
