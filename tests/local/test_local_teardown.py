"""Runs without the module-scoped stack, so nothing else is mocked or installed meanwhile."""

from __future__ import annotations

import os

from moto.awslambda_simple.models import LambdaSimpleBackend

from local.stack import IN_PROCESS, embedded_stack
from local.template import Template


def test_teardown_restores_moto_and_environment(toy_template: Template) -> None:
    original = LambdaSimpleBackend.invoke
    before = dict(os.environ)
    with embedded_stack(toy_template, stack_name="short", region="eu-west-1", lambdas=IN_PROCESS) as stack:
        assert stack.client("dynamodb").list_tables()["TableNames"] == ["short-ItemsTable", "short-KeysTable"]
        assert stack.state_machine_arn is not None and ":eu-west-1:" in stack.state_machine_arn
        assert os.environ["ITEMS_TABLE"] == "short-ItemsTable"
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
        assert LambdaSimpleBackend.invoke is not original
        assert stack.dispatcher.invoke("Step", {"n": 1})["table"] == "short-ItemsTable"
    assert LambdaSimpleBackend.invoke is original
    assert dict(os.environ) == before
