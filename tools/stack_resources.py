"""The physical id of a deployed stack's resource, for the operator tools (a table's name, a
secret's ARN), read from CloudFormation rather than from Outputs a later template might rename."""

from __future__ import annotations

import boto3


def physical_id(stack: str, logical_id: str) -> str:
    resource = boto3.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId=logical_id
    )
    return str(resource["StackResourceDetail"]["PhysicalResourceId"])
