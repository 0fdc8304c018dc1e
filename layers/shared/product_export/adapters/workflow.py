"""The export state machine: start an execution per job, stop it on cancel."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from product_export.adapters.aws import client


class ExportWorkflow:
    def __init__(self, state_machine_arn: str) -> None:
        self.arn = state_machine_arn
        self.sfn = client("stepfunctions")

    def start(self, store_id: str, job_id: str) -> str:
        """Start the job's execution, named by the job id so a repeated start cannot run it twice."""
        try:
            response = self.sfn.start_execution(
                stateMachineArn=self.arn,
                name=job_id,
                input=json.dumps({"store_id": store_id, "job_id": job_id}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            return self.execution_arn(job_id)
        arn: str = response["executionArn"]
        return arn

    def execution_arn(self, job_id: str) -> str:
        return self.arn.replace(":stateMachine:", ":execution:") + ":" + job_id

    def status(self, job_id: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED; None when the job has no execution."""
        try:
            described = self.sfn.describe_execution(executionArn=self.execution_arn(job_id))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise
        status: str = described["status"]
        return status

    def stop(self, job_id: str, *, cause: str) -> None:
        try:
            self.sfn.stop_execution(executionArn=self.execution_arn(job_id), cause=cause)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ExecutionDoesNotExist",):
                raise
