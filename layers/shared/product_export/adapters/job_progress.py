"""Progress writes on the job item (export/progress.py): one small conditional UpdateItem each."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from product_export.adapters.aws import client
from product_export.jobs.models import job_key

logger = Logger()


class JobProgressTable:
    def __init__(self, table_name: str) -> None:
        self.table = table_name
        self.dynamodb = client("dynamodb")

    def record_part(self, store_id: str, job_id: str, number: int, rows: int, *, done: bool) -> bool:
        """SET ``part_progress.<number>`` to the part's running total, only while the job is started.

        False when the job is no longer started (cancelled: the writer stops). Progress is advisory,
        so any other failure (botocore has already retried throttling) is logged and the part goes on;
        the next write carries the whole running total anyway.
        """
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": store_id}, "sk": {"S": job_key(job_id)}},
                UpdateExpression="SET part_progress.#part = :count",
                ConditionExpression="#status = :started",
                ExpressionAttributeNames={"#part": str(number), "#status": "status"},
                ExpressionAttributeValues={
                    ":count": {"M": {"rows": {"N": str(rows)}, "done": {"BOOL": done}}},
                    ":started": {"S": "started"},
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            logger.warning("could not record the part's progress", extra={"part": number}, exc_info=True)
        return True
