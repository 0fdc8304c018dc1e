"""A throwaway template and handlers that exercise the local stack machinery (not the product)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack import IN_PROCESS, EmbeddedStack, embedded_stack
from local.template import Template

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Concurrency: {Type: Number, Default: 3}
  CacheTtl: {Type: Number, Default: 60}
Globals:
  Function:
    Runtime: python3.13
    Timeout: 10
    MemorySize: 256
    Environment:
      Variables:
        ITEMS_TABLE: !Ref ItemsTable
        FILES_BUCKET: !Ref Files
        KEY_ARN: !Ref Key
        STACK_REGION: !Sub "${AWS::StackName}@${AWS::Region}"
Resources:
  ItemsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      SSESpecification: {SSEEnabled: true}
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: status, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: by-status
          KeySchema:
            - {AttributeName: status, KeyType: HASH}
          Projection: {ProjectionType: KEYS_ONLY}
  KeysTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: client_id, AttributeType: S}]
      KeySchema: [{AttributeName: client_id, KeyType: HASH}]
  Files:
    Type: AWS::S3::Bucket
  Key:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString: {PasswordLength: 40, ExcludePunctuation: true}
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v9
      Auth:
        DefaultAuthorizer: Tokens
        Authorizers:
          Tokens:
            FunctionArn: !GetAtt Authorizer.Arn
            Identity: {Header: X-Token, ReauthorizeEvery: !Ref CacheTtl}
      GatewayResponses:
        UNAUTHORIZED:
          StatusCode: 401
          ResponseTemplates:
            application/json: '{"errors":[{"status":"401","title":"Unauthorized"}]}'
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: 404
          ResponseTemplates:
            application/json: '{"errors":[{"status":"404","title":"Not Found"}]}'
        DEFAULT_4XX:
          ResponseTemplates:
            application/json: '{"errors":[{"title":"Client error","detail":$context.error.messageString}]}'
        DEFAULT_5XX:
          ResponseTemplates:
            application/json: '{"errors":[{"title":"Server error"}]}'
  Authorizer:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: auth/, Handler: app.lambda_handler}
  Items:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: items/
      Handler: app.lambda_handler
      Events:
        List: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /items, Method: get}}
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/items/{id}", Method: get}}
        Export: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /items/export, Method: post}}
        Public:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /public, Method: any, Auth: {Authorizer: NONE}}
        Boom: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /boom, Method: get}}
  Step:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: step/
      Handler: app.lambda_handler
      Timeout: 60
      MemorySize: 1024
      Environment:
        Variables:
          MACHINE_ARN: !Ref Machine
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: !Sub "${AWS::StackName}-machine"
      DefinitionUri: machine.asl.json
      DefinitionSubstitutions:
        StepArn: !GetAtt Step.Arn
        Concurrency: !Ref Concurrency
"""

MACHINE = {
    "StartAt": "Work",
    "States": {
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${StepArn}", "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "Catch": [{"ErrorEquals": ["BadInput"], "ResultPath": "$.failure", "Next": "Failed"}],
            "End": True,
        },
        "Failed": {
            "Type": "Pass",
            "Parameters": {"error.$": "$.failure.Error", "cause.$": "$.failure.Cause"},
            "End": True,
        },
    },
}

AUTHORIZER = """
def lambda_handler(event, context):
    token = event["authorizationToken"]
    api = event["methodArn"].split("/")[0]
    if token == "Bearer boom":
        raise RuntimeError("database down")
    if token == "Bearer deny":
        statement = {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": f"{api}/*"}
    elif token == "Bearer narrow":
        statement = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": event["methodArn"]}
    elif token == "Bearer good":
        statement = {"Effect": "Allow", "Action": "execute-api:*", "Resource": f"{api}/v?/*"}
    else:
        raise Exception("Unauthorized")
    return {
        "principalId": "user-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"store_id": "store-1", "limit": 3, "admin": True},
    }
"""

ITEMS = """
import json
import os

from helper import describe


def lambda_handler(event, context):
    if event["resource"] == "/boom":
        raise ValueError("boom")
    return {
        "statusCode": 200,
        "headers": {"X-Function": context.function_name},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({"event": event, "stack": os.environ["STACK_REGION"], "helper": describe()}),
    }
"""

STEP = """
import os


class BadInput(Exception):
    pass


def lambda_handler(event, context):
    if "fail" in event:
        raise BadInput(f"cannot handle {event['fail']}")
    return {
        "doubled": event["n"] * 2,
        "table": os.environ["ITEMS_TABLE"],
        "machine": os.environ["MACHINE_ARN"],
        "function": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis() > 0,
    }
"""


def write_project(root: Path) -> Path:
    """The throwaway template with its handler files; returns the template's path."""
    files = {
        "template.yaml": TEMPLATE,
        "machine.asl.json": json.dumps(MACHINE, indent=2).replace(
            '"StartAt"', '"Comment": "${StepArn} x ${Concurrency}",\n  "StartAt"'
        ),
        "auth/app.py": AUTHORIZER,
        "items/app.py": ITEMS,
        "items/helper.py": "def describe():\n    return 'items helper'\n",
        "step/app.py": STEP,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root / "template.yaml"


@pytest.fixture(scope="session")
def toy_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return Template.load(write_project(tmp_path_factory.mktemp("toy")))


@pytest.fixture(scope="module")
def toy_stack(toy_template: Template) -> Iterator[EmbeddedStack]:
    with embedded_stack(toy_template, stack_name="toy", lambdas=IN_PROCESS) as stack:
        yield stack


@pytest.fixture
def stack(toy_stack: EmbeddedStack) -> Iterator[EmbeddedStack]:
    """The module's stack, with fault injection and the authorizer cache reset after each test."""
    yield toy_stack
    toy_stack.dispatcher.clear_intercepts()
    if toy_stack.api is not None:
        toy_stack.api.flush_authorizer_cache()
