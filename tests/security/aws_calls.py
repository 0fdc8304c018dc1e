"""Which AWS calls each function makes, and whether its role (as SAM generates it) allows them.

``CallRecorder`` wraps every function of an embedded stack (the real handlers) and botocore's
request path, so each AWS API call is recorded with the function that made it (also from threads
the function starts). ``required``
turns a call into the IAM actions and resource ARNs AWS authorizes it against, and
``RolePolicies`` evaluates them against the role policies of ``tools/sam_translate.translate``
(resolved with the stack's names) the way IAM does for identity policies: an explicit Deny wins,
then any Allow whose action and resource patterns match.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from local.stack import EmbeddedStack


@dataclass(frozen=True)
class Call:
    function: str
    service: str
    operation: str
    params: dict[str, Any]


class CallRecorder:
    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.calls: list[Call] = []
        self._current = threading.local()
        self._lock = threading.Lock()
        self._holds: dict[str, tuple[threading.Event, threading.Event]] = {}

    def hold(self, logical_id: str) -> tuple[threading.Event, threading.Event]:
        """Calls of ``logical_id`` wait until ``release`` is set; ``entered`` is set once one waits."""
        events = (threading.Event(), threading.Event())
        self._holds[logical_id] = events
        return events

    @contextmanager
    def recording(self) -> Iterator[CallRecorder]:
        for logical_id in self.stack.dispatcher.functions:
            self.stack.dispatcher.intercept(logical_id, self._hook(logical_id))
        real = BaseClient._make_api_call
        recorder = self

        def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            function = getattr(recorder._current, "function", None)
            if function is not None:
                with recorder._lock:
                    recorder.calls.append(
                        Call(function, client.meta.service_model.signing_name, operation, dict(params))
                    )
            recorder._current.in_call = True
            try:
                return real(client, operation, params)
            finally:
                recorder._current.in_call = False

        # A handler's own threads (e.g. the planner reading shards at once) act for its function;
        # threads moto starts while answering a call (a workflow execution) act for nobody.
        real_start, real_run = threading.Thread.start, threading.Thread.run

        def start(thread: threading.Thread) -> None:
            inside_a_call = getattr(recorder._current, "in_call", False)
            acting_for = None if inside_a_call else getattr(recorder._current, "function", None)
            thread._acting_for = acting_for  # type: ignore[attr-defined]
            real_start(thread)

        def run(thread: threading.Thread) -> None:
            recorder._current.function = getattr(thread, "_acting_for", None)
            real_run(thread)

        BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        threading.Thread.start = start  # type: ignore[method-assign]
        threading.Thread.run = run  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BaseClient._make_api_call = real  # type: ignore[method-assign]
            threading.Thread.start, threading.Thread.run = real_start, real_run  # type: ignore[method-assign]
            self.stack.dispatcher.clear_intercepts()

    def _hook(self, logical_id: str) -> Any:
        def hook(event: Any, context: Any, call_real: Any) -> Any:
            outer = getattr(self._current, "function", None)
            self._current.function = logical_id
            held = self._holds.get(logical_id)
            if held is not None:
                held[0].set()
                held[1].wait(30)
            try:
                return call_real(event)
            finally:
                self._current.function = outer

        return hook


class Unmapped(Exception):
    """A call this module does not know how to authorize: add it to ``required``."""


_S3_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
}
_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def required(call: Call, stack: EmbeddedStack) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS checks for ``call``."""
    partition, region, account = stack.refs["AWS::Partition"], stack.region, stack.account_id
    params, op = call.params, call.operation

    def table(name: str) -> str:
        return f"arn:{partition}:dynamodb:{region}:{account}:table/{name}"

    if call.service == "dynamodb":
        if op in ("TransactWriteItems", "TransactGetItems"):
            return [
                (_TRANSACT_ACTIONS[kind], table(body["TableName"]))
                for item in params["TransactItems"]
                for kind, body in item.items()
            ]
        if op in ("BatchWriteItem", "BatchGetItem"):
            return [(f"dynamodb:{op}", table(name)) for name in params["RequestItems"]]
        resource = table(params["TableName"])
        if op in ("Query", "Scan") and params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
        return [(f"dynamodb:{op}", resource)]
    if call.service == "s3":
        bucket = f"arn:{partition}:s3:::{params['Bucket']}"
        if op in ("ListObjectsV2", "ListObjects"):
            return [("s3:ListBucket", bucket)]
        if op == "ListMultipartUploads":
            return [("s3:ListBucketMultipartUploads", bucket)]
        if op == "DeleteObjects":
            return [("s3:DeleteObject", f"{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
        if op in _S3_ACTIONS:
            return [(_S3_ACTIONS[op], f"{bucket}/{params['Key']}")]
    if call.service == "states":
        if op in ("StartExecution", "ListExecutions", "DescribeStateMachine"):
            return [(f"states:{op}", params["stateMachineArn"])]
        if op in ("StopExecution", "DescribeExecution", "GetExecutionHistory"):
            return [(f"states:{op}", params["executionArn"])]
    if call.service == "secretsmanager" and op in ("GetSecretValue", "PutSecretValue", "DescribeSecret"):
        return [(f"secretsmanager:{op}", params["SecretId"])]
    if call.service == "events" and op == "PutEvents":
        return [
            ("events:PutEvents", f"arn:{partition}:events:{region}:{account}:event-bus/{bus}")
            for bus in {entry.get("EventBusName", "default") for entry in params["Entries"]}
        ]
    raise Unmapped(f"{call.function}: {call.service}.{op}")


def _patterns(value: Any) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value])]


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    sid: str

    def matches(self, action: str, resource: str) -> bool:
        return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in self.actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in self.resources
        )


class RolePolicies:
    """The inline policies of each function's role, as deployed (managed policies are SAM's
    logging and tracing defaults and are left out)."""

    def __init__(self, translated: dict[str, Any], stack: EmbeddedStack) -> None:
        self.statements: dict[str, list[Statement]] = {}
        resources = translated["Resources"]
        for logical_id in stack.dispatcher.functions:
            role_ref = resources[logical_id]["Properties"]["Role"]
            role_id = role_ref["Fn::GetAtt"][0] if isinstance(role_ref, dict) else None
            policies = stack.resolve(resources[role_id]["Properties"].get("Policies", [])) if role_id else []
            found = []
            for policy in policies:
                for index, raw in enumerate(_patterns_list(policy["PolicyDocument"]["Statement"])):
                    found.append(
                        Statement(
                            effect=raw["Effect"],
                            actions=tuple(_patterns(raw["Action"])),
                            resources=tuple(_patterns(raw["Resource"])),
                            sid=raw.get("Sid") or f"{policy['PolicyName']}[{index}]",
                        )
                    )
            self.statements[logical_id] = found

    def allows(self, function: str, action: str, resource: str) -> bool:
        statements = self.statements[function]
        if any(s.effect == "Deny" and s.matches(action, resource) for s in statements):
            return False
        return any(s.effect == "Allow" and s.matches(action, resource) for s in statements)

    def grants(self, function: str) -> list[tuple[str, str, str]]:
        """(statement id, action pattern, resource pattern) of every Allow of the function's role."""
        return [
            (s.sid, action, resource)
            for s in self.statements[function]
            if s.effect == "Allow"
            for action in s.actions
            for resource in s.resources
        ]


def _patterns_list(value: Any) -> list[dict[str, Any]]:
    return value if isinstance(value, list) else [value]
