"""The operator tools find a deployed stack's resources by their logical ids in template.yaml: run
against a CloudFormation stack (moto) holding the template's own application keys table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.template import Template
from product_export.adapters.keys_table import KeysTable
from product_export.auth.passwords import verify_secret
from tools import create_store
from tools.stack_resources import physical_id

STACK = "product-export"


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    resources = Template.load().resources
    body = {
        "Resources": {
            "ApplicationKeysTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    key: resources["ApplicationKeysTable"]["Properties"][key]
                    for key in ("BillingMode", "AttributeDefinitions", "KeySchema")
                },
            },
        }
    }
    with mock_aws():
        boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(body))
        yield boto3


def test_physical_ids_are_read_from_the_stack(deployed: Any) -> None:
    # (moto's CloudFormation cannot create the signing secret; rotate_signing_key reads its ARN the same way.)
    tables = deployed.client("dynamodb").list_tables()["TableNames"]
    assert [physical_id(STACK, "ApplicationKeysTable")] == tables
    with pytest.raises(deployed.client("cloudformation").exceptions.ClientError):
        physical_id(STACK, "NoSuchResource")


def test_create_store_by_stack_name_stores_a_key_that_verifies(
    deployed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert create_store.main(["--stack", STACK, "--name", "Shoe shop"]) == 0
    printed = json.loads(capsys.readouterr().out)
    key = KeysTable(physical_id(STACK, "ApplicationKeysTable")).get(printed["client_id"])
    assert key is not None and key.store_id == printed["store_id"]
    assert verify_secret(printed["client_secret"], key.secret_hash)
    assert not verify_secret(printed["client_secret"] + "x", key.secret_hash)
