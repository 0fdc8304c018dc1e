"""The jobs table: job records with conditional status transitions, and their error messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from product_export.adapters.aws import client
from product_export.adapters.batches import put_all
from product_export.adapters.dynamo_json import decode_item, encode_item, encode_value
from product_export.errors import NotFound
from product_export.jobs.models import (
    FINAL_STATUSES,
    OPEN_ATTRIBUTE,
    OPEN_MARK,
    TRANSITIONS,
    Job,
    error_key,
    job_key,
)
from product_export.settings import get_settings

OPEN_JOBS_INDEX = "open-jobs"


class TransitionRejected(Exception):
    """The job is not in a status the transition may start from; ``job`` is its current state."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} is {job.status}")
        self.job = job


class JobsTable:
    def __init__(self, table_name: str | None = None) -> None:
        self.table = table_name or get_settings().jobs_table
        self.dynamodb = client("dynamodb")

    def _key(self, store_id: str, sort_key: str) -> dict[str, Any]:
        return {"pk": {"S": store_id}, "sk": {"S": sort_key}}

    def create(self, job: Job) -> None:
        self.dynamodb.put_item(
            TableName=self.table,
            Item=encode_item(job.to_item()),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get(self, store_id: str, job_id: str) -> Job:
        response = self.dynamodb.get_item(
            TableName=self.table, Key=self._key(store_id, job_key(job_id)), ConsistentRead=True
        )
        if "Item" not in response:
            raise NotFound(f"Job {job_id} not found")
        return Job.from_item(decode_item(response["Item"]))

    def transition(self, store_id: str, job_id: str, status: str, **changes: Any) -> Job:
        """Move the job to ``status`` (setting ``changes`` too) only from an allowed status."""
        names = {"#status": "status"}
        values: dict[str, Any] = {":status": {"S": status}}
        assignments = ["#status = :status"]
        for index, (field, value) in enumerate(changes.items()):
            names[f"#f{index}"] = field
            values[f":f{index}"] = encode_value(value)
            assignments.append(f"#f{index} = :f{index}")
        removal = ""
        if status in FINAL_STATUSES:  # a final job leaves the open-jobs index
            names["#open"] = OPEN_ATTRIBUTE
            removal = " REMOVE #open"
        allowed = [f":from{index}" for index in range(len(TRANSITIONS[status]))]
        values.update(
            {name: {"S": source} for name, source in zip(allowed, TRANSITIONS[status], strict=True)}
        )
        try:
            response = self.dynamodb.update_item(
                TableName=self.table,
                Key=self._key(store_id, job_key(job_id)),
                UpdateExpression="SET " + ", ".join(assignments) + removal,
                ConditionExpression=f"attribute_exists(pk) AND #status IN ({', '.join(allowed)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            if not old:
                raise NotFound(f"Job {job_id} not found") from error
            raise TransitionRejected(Job.from_item(decode_item(old))) from error
        return Job.from_item(decode_item(response["Attributes"]))

    def list_jobs(self, store_id: str, *, offset: int, limit: int) -> tuple[list[Job], int]:
        """Newest first: job ids are UUIDv7, so the sort key orders jobs by creation time."""
        items, total = self._page(store_id, "job#", offset=offset, limit=limit, newest_first=True)
        return [Job.from_item(item) for item in items], total

    def open_jobs(self, *, created_before: str) -> Iterator[Job]:
        """Jobs of every store still pending or started, created before the given time (oldest first)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": OPEN_JOBS_INDEX,
            "KeyConditionExpression": "#open = :open AND created_at < :before",
            "ExpressionAttributeNames": {"#open": OPEN_ATTRIBUTE},
            "ExpressionAttributeValues": {":open": {"S": OPEN_MARK}, ":before": {"S": created_before}},
        }
        while True:
            page = self.dynamodb.query(**request)
            for raw in page.get("Items", []):
                yield self.get(raw["pk"]["S"], raw["sk"]["S"].removeprefix("job#"))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def add_errors(self, store_id: str, job_id: str, messages: list[str], *, first_number: int = 1) -> None:
        put_all(
            self.dynamodb,
            self.table,
            (
                encode_item(
                    {"pk": store_id, "sk": error_key(job_id, first_number + index), "message": message}
                )
                for index, message in enumerate(messages)
            ),
        )

    def errors(
        self, store_id: str, job_id: str, *, offset: int, limit: int
    ) -> tuple[list[tuple[str, str]], int]:
        """(error number, message) pairs of a job, in order."""
        items, total = self._page(store_id, f"error#{job_id}#", offset=offset, limit=limit)
        return [(item["sk"].rsplit("#", 1)[1], item["message"]) for item in items], total

    def _page(
        self, store_id: str, prefix: str, *, offset: int, limit: int, newest_first: bool = False
    ) -> tuple[list[dict[str, Any]], int]:
        """Items [offset, offset + limit) under a sort key prefix, and how many there are in all."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": store_id}, ":prefix": {"S": prefix}},
        }
        total = self._count(request)
        found: list[dict[str, Any]] = []
        seen = 0
        query = {**request, "ScanIndexForward": not newest_first, "Limit": min(offset + limit, 1000)}
        while len(found) < limit:
            page = self.dynamodb.query(**query)
            for raw in page.get("Items", []):
                if seen >= offset and len(found) < limit:
                    found.append(decode_item(raw))
                seen += 1
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found, total

    def _count(self, request: dict[str, Any]) -> int:
        total = 0
        query = {**request, "Select": "COUNT"}
        while True:
            page = self.dynamodb.query(**query)
            total += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                return total
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
