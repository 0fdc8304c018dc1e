from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from local.lambdas import CallReal, LambdaContext
from local.stack import IN_PROCESS, EmbeddedStack


def _run(stack: EmbeddedStack, payload: dict[str, Any]) -> dict[str, Any]:
    assert stack.state_machine_arn is not None
    started = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machine_arn, input=json.dumps(payload)
    )
    return stack.wait_for_execution(started["executionArn"], timeout=20)


def test_tables_follow_the_template_key_schema(stack: EmbeddedStack) -> None:
    dynamodb = stack.client("dynamodb")
    items = dynamodb.describe_table(TableName="toy-ItemsTable")["Table"]
    assert items["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert items["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in items["GlobalSecondaryIndexes"]] == ["by-status"]
    keys = dynamodb.describe_table(TableName=stack.refs["KeysTable"])["Table"]
    assert keys["KeySchema"] == [{"AttributeName": "client_id", "KeyType": "HASH"}]


def test_bucket_secret_and_environment(stack: EmbeddedStack) -> None:
    assert stack.refs["Files"] == "toy-files"
    stack.client("s3").head_bucket(Bucket="toy-files")
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.refs["Key"])["SecretString"]
    assert len(secret) == 40 and secret.isalnum()
    env = stack.environment_of("Step")
    assert env == {
        "ITEMS_TABLE": "toy-ItemsTable",
        "FILES_BUCKET": "toy-files",
        "KEY_ARN": stack.refs["Key"],
        "STACK_REGION": "toy@us-east-1",
        "MACHINE_ARN": stack.state_machine_arn,
    }
    assert os.environ["ITEMS_TABLE"] == "toy-ItemsTable"
    assert os.environ["MACHINE_ARN"] == stack.state_machine_arn


def test_lambda_task_runs_the_real_handler(stack: EmbeddedStack) -> None:
    execution = _run(stack, {"n": 21})
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {
        "doubled": 42,
        "table": "toy-ItemsTable",
        "machine": stack.state_machine_arn,
        "function": "toy-Step",
        "memory": 1024,
        "remaining": True,
    }


def test_handler_exception_is_the_task_error_and_can_be_caught(stack: EmbeddedStack) -> None:
    execution = _run(stack, {"fail": "this"})
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["error"] == "BadInput"
    cause = json.loads(output["cause"])
    assert (cause["errorType"], cause["errorMessage"]) == ("BadInput", "cannot handle this")
    assert any("lambda_handler" in line for line in cause["stackTrace"])


def test_uncaught_injected_fault_fails_the_execution(stack: EmbeddedStack) -> None:
    class TransientError(Exception):
        pass

    def flaky(event: Any, context: LambdaContext, call_real: CallReal) -> Any:
        raise TransientError("throttled")

    stack.dispatcher.intercept("Step", flaky)
    execution = _run(stack, {"n": 1})
    assert execution["status"] == "FAILED"
    assert execution["error"] == "TransientError"


def test_intercept_can_call_through(stack: EmbeddedStack) -> None:
    seen: list[Any] = []

    def spy(event: Any, context: LambdaContext, call_real: CallReal) -> Any:
        seen.append(event)
        return {**call_real({"n": event["n"] + 1}), "spied": True}

    stack.dispatcher.intercept("Step", spy)
    execution = _run(stack, {"n": 1})
    assert json.loads(execution["output"])["doubled"] == 4
    assert json.loads(execution["output"])["spied"] is True
    assert seen == [{"n": 1}]


def test_lambda_invoke_api_and_direct_invoke(stack: EmbeddedStack) -> None:
    client = stack.client("lambda")
    response = client.invoke(FunctionName="toy-Step", Payload=json.dumps({"n": 2}))
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read())["doubled"] == 4
    failed = client.invoke(FunctionName=stack.attrs[("Step", "Arn")], Payload=json.dumps({"fail": 1}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "BadInput"
    assert stack.dispatcher.invoke("Step", {"n": 5})["doubled"] == 10
    with pytest.raises(Exception, match="cannot handle 1") as raised:
        stack.dispatcher.invoke("Step", {"fail": 1})
    assert type(raised.value).__name__ == "BadInput"


def test_close_stops_executions_and_waits_for_their_threads(stack: EmbeddedStack) -> None:
    events: list[str] = []

    def slow(event: Any, context: LambdaContext, call_real: CallReal) -> Any:
        events.append("started")
        time.sleep(0.5)
        events.append("finished")
        return call_real(event)

    other = type(stack).create(stack.template, stack_name="draining", lambdas=IN_PROCESS)
    other.dispatcher.intercept("Step", slow)
    assert other.state_machine_arn is not None
    client = other.client("stepfunctions")
    arn = client.start_execution(stateMachineArn=other.state_machine_arn, input='{"n": 1}')["executionArn"]
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    other.close()
    assert events == ["started", "finished"]
    assert client.describe_execution(executionArn=arn)["status"] == "ABORTED"
