"""The jobs table: job records with conditional status transitions, and their error messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
    SLOTS_KEY,
    SLOTS_MARK,
    TRANSITIONS,
    Job,
    error_key,
    job_key,
)

OPEN_JOBS_INDEX = "open-jobs"


class TransitionRejected(Exception):
    """The job is not in a status the transition may start from; ``job`` is its current state."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} is {job.status}")
        self.job = job


@dataclass(frozen=True)
class ExportSlotState:
    holders: dict[str, str]  # job id -> when it took its slot
    waiting: dict[str, str]  # job id -> when it first asked for one


class JobClosed(Exception):
    """The job is no longer pending or started, so it may not take an export slot."""


class JobsTable:
    def __init__(self, table_name: str, *, on_final: Callable[[Job], None] | None = None) -> None:
        self.table = table_name
        self.dynamodb = client("dynamodb")
        # Told of each job this table moved to a final status, once the conditional update succeeded
        # (the completion events): every final transition goes through transition().
        self.on_final = on_final

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
        job = Job.from_item(decode_item(response["Attributes"]))
        if status in FINAL_STATUSES and self.on_final is not None:
            self.on_final(job)
        return job

    def job_ids_since(self, store_id: str, first_id: str, *, limit: int) -> list[str]:
        """Up to ``limit`` ids of the store's jobs from ``first_id`` on (UUIDv7: created since then),
        oldest first; only the keys are read."""
        ids: list[str] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": {"S": store_id},
                ":first": {"S": job_key(first_id)},
                ":last": {"S": job_key("g")},  # after every hexadecimal id
            },
            "ProjectionExpression": "sk",
            "ConsistentRead": True,
        }
        while len(ids) < limit:
            page = self.dynamodb.query(**request, Limit=limit - len(ids))
            ids += [raw["sk"]["S"].removeprefix("job#") for raw in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return ids

    def list_jobs(self, store_id: str, *, offset: int, limit: int) -> tuple[list[Job], int]:
        """Newest first: job ids are UUIDv7, so the sort key orders jobs by creation time."""
        items, total = self._page(store_id, "job#", offset=offset, limit=limit, newest_first=True)
        return [Job.from_item(item) for item in items], total

    def last_success(self, store_id: str, *, filter_text: str | None) -> Job | None:
        """The store's newest successful export with a cut-over time whose filter is ``filter_text``
        or none at all (an unfiltered export covers every filter): where a delta export continues."""
        names = {"#status": "status", "#filter": "filter", "#cutover": "cutover_at"}
        values: dict[str, Any] = {
            ":pk": {"S": store_id},
            ":prefix": {"S": "job#"},
            ":success": {"S": "success"},
        }
        same_filter = "attribute_not_exists(#filter)"
        if filter_text is not None:
            same_filter = "(attribute_not_exists(#filter) OR #filter = :filter)"
            values[":filter"] = {"S": filter_text}
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": f"#status = :success AND attribute_exists(#cutover) AND {same_filter}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,  # newest first: job ids are UUIDv7
            "ConsistentRead": True,
        }
        while True:
            page = self.dynamodb.query(**request)
            for raw in page.get("Items", []):
                return Job.from_item(decode_item(raw))
            if "LastEvaluatedKey" not in page:
                return None
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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

    # --- export slots: a DynamoDB semaphore per store ---------------------------------------
    # One item per store: "holders" (job id -> when it took its slot) and "waiting" (job id -> when
    # it first asked for one). While it has holders it carries "open" = SLOTS_MARK and a created_at,
    # which put it in the sparse open-jobs index under its own key, where the sweeper finds it.
    def export_slots(self, store_id: str) -> ExportSlotState:
        response = self.dynamodb.get_item(
            TableName=self.table,
            Key=self._key(store_id, SLOTS_KEY),
            ConsistentRead=True,
            ProjectionExpression="holders, waiting",
        )
        item = decode_item(response.get("Item", {}))
        return ExportSlotState(holders=item.get("holders", {}), waiting=item.get("waiting", {}))

    def slot_holders(self, store_id: str) -> dict[str, str]:
        """The jobs holding one of the store's export slots, with when each took it."""
        return self.export_slots(store_id).holders

    def join_slot_queue(self, store_id: str, job_id: str, *, now: str) -> None:
        """Note that the job waits for a slot, from ``now`` (kept if it already waits)."""
        self._ensure_slot_maps(store_id)
        self.dynamodb.update_item(
            TableName=self.table,
            Key=self._key(store_id, SLOTS_KEY),
            UpdateExpression="SET waiting.#job = if_not_exists(waiting.#job, :now)",
            ExpressionAttributeNames={"#job": job_id},
            ExpressionAttributeValues={":now": {"S": now}},
        )

    def take_slot(self, store_id: str, job_id: str, *, limit: int, now: str) -> bool:
        """Take a slot for the job if fewer than ``limit`` are held; True when it holds one.

        One transaction checks that the job is still pending (or started: a repeated call) and adds it
        to the holders, so a job cancelled meanwhile can never take, and so leak, a slot. Taking a slot
        the job already holds succeeds again.
        """
        self._ensure_slot_maps(store_id)
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": self._key(store_id, job_key(job_id)),
                            "ConditionExpression": "#status IN (:pending, :started)",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":pending": {"S": "pending"},
                                ":started": {"S": "started"},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._key(store_id, SLOTS_KEY),
                            "UpdateExpression": "SET holders.#job = :now, #open = :slots, created_at = :now"
                            " REMOVE waiting.#job",
                            "ConditionExpression": "size(holders) < :limit OR attribute_exists(holders.#job)",
                            "ExpressionAttributeNames": {"#job": job_id, "#open": OPEN_ATTRIBUTE},
                            "ExpressionAttributeValues": {
                                ":now": {"S": now},
                                ":slots": {"S": SLOTS_MARK},
                                ":limit": {"N": str(limit)},
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if codes and codes[0] == "ConditionalCheckFailed":
                raise JobClosed(f"job {job_id} may not take a slot") from error
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                return False
            raise
        return True

    def release_slot(self, store_id: str, job_id: str) -> bool:
        """Give the job's slot back (and take it out of the queue); False when it held none.
        Releasing twice is harmless."""
        try:
            response = self.dynamodb.update_item(
                TableName=self.table,
                Key=self._key(store_id, SLOTS_KEY),
                UpdateExpression="REMOVE holders.#job, waiting.#job",
                ConditionExpression="attribute_exists(holders.#job) OR attribute_exists(waiting.#job)",
                ExpressionAttributeNames={"#job": job_id},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        holders = decode_item(response.get("Attributes", {})).get("holders", {})
        if job_id not in holders:
            return False
        if len(holders) == 1:
            # The last holder left: the item leaves the sweeper's index (unless a slot was taken meanwhile).
            try:
                self.dynamodb.update_item(
                    TableName=self.table,
                    Key=self._key(store_id, SLOTS_KEY),
                    UpdateExpression="REMOVE #open",
                    ConditionExpression="size(holders) = :zero",
                    ExpressionAttributeNames={"#open": OPEN_ATTRIBUTE},
                    ExpressionAttributeValues={":zero": {"N": "0"}},
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        return True

    def _ensure_slot_maps(self, store_id: str) -> None:
        """A member can only be set inside a map that exists."""
        self.dynamodb.update_item(
            TableName=self.table,
            Key=self._key(store_id, SLOTS_KEY),
            UpdateExpression="SET holders = if_not_exists(holders, :none),"
            " waiting = if_not_exists(waiting, :none)",
            ExpressionAttributeValues={":none": {"M": {}}},
        )

    def stores_with_slot_holders(self) -> Iterator[str]:
        """Stores whose export slots have holders (from the sparse index)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": OPEN_JOBS_INDEX,
            "KeyConditionExpression": "#open = :slots",
            "ExpressionAttributeNames": {"#open": OPEN_ATTRIBUTE},
            "ExpressionAttributeValues": {":slots": {"S": SLOTS_MARK}},
        }
        while True:
            page = self.dynamodb.query(**request)
            for raw in page.get("Items", []):
                yield raw["pk"]["S"]
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def open_jobs_of_store(self, store_id: str, *, created_until: str) -> Iterator[tuple[str, str]]:
        """(created_at, job id) of the store's pending and started jobs created until then, oldest first.

        The index holds the open jobs of every store under one key; the store is a filter on the
        (few) open jobs, not a read of the store's whole job history.
        """
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": OPEN_JOBS_INDEX,
            "KeyConditionExpression": "#open = :open AND created_at <= :until",
            "FilterExpression": "pk = :store",
            "ExpressionAttributeNames": {"#open": OPEN_ATTRIBUTE},
            "ExpressionAttributeValues": {
                ":open": {"S": OPEN_MARK},
                ":until": {"S": created_until},
                ":store": {"S": store_id},
            },
        }
        while True:
            page = self.dynamodb.query(**request)
            for raw in page.get("Items", []):
                yield raw["created_at"]["S"], raw["sk"]["S"].removeprefix("job#")
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
