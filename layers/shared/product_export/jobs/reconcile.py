"""No job stays pending or started forever.

The workflow records every outcome it can catch. What it cannot — a timeout of the whole
execution, an execution stopped from the console, a failure of the step that records failures, a
job whose execution never started — is reconciled here, from two sources: the execution status
change event (at once) and a periodic sweep of the open jobs (whatever the event missed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from product_export.adapters.jobs_table import JobsTable, TransitionRejected
from product_export.adapters.parts_bucket import PartsBucket
from product_export.adapters.workflow import ExportWorkflow
from product_export.errors import NotFound
from product_export.jobs.models import FINAL_STATUSES, Job
from product_export.values import format_timestamp, now_timestamp

logger = Logger()

MESSAGES = {
    "TIMED_OUT": "The export took longer than the workflow's time limit and was stopped",
    "ABORTED": "The export's workflow was stopped before it finished",
    "FAILED": "The export's workflow failed without recording why",
    "SUCCEEDED": "The export's workflow ended without recording its result",
    None: "The export's workflow never started",
}
# A pending job may wait this long for its execution to appear (StartExecution follows the record).
START_GRACE = timedelta(minutes=5)


class Reconciler:
    def __init__(self, jobs: JobsTable, workflow: ExportWorkflow, bucket: PartsBucket) -> None:
        self.jobs = jobs
        self.workflow = workflow
        self.bucket = bucket

    def execution_ended(self, store_id: str, job_id: str, execution_status: str | None) -> str:
        """The job's execution is over (or never began): a job still open is failed, with why."""
        job = self.jobs.get(store_id, job_id)
        if execution_status == "RUNNING":
            return job.status
        # The execution is over: whatever it did not finish, its export slot goes back to the store.
        self.jobs.release_slot(store_id, job_id)
        if job.status in FINAL_STATUSES:
            return job.status
        message = f"Export failed: {MESSAGES.get(execution_status, MESSAGES['FAILED'])}"
        self.jobs.add_errors(store_id, job_id, [message], first_number=job.error_count + 1)
        self.bucket.abort_uploads(f"{store_id}/{job_id}/")
        self.bucket.delete_prefix(f"{store_id}/{job_id}/")
        now = now_timestamp()
        try:
            failed = self.jobs.transition(
                store_id, job_id, "failed", error_count=job.error_count + 1, completed_at=now, updated_at=now
            )
        except TransitionRejected as rejected:  # it finished meanwhile
            return rejected.job.status
        logger.warning(
            "reconciled an unfinished job", extra={"job_id": job_id, "execution": execution_status}
        )
        return failed.status

    def sweep(self, *, now: datetime | None = None) -> list[Job]:
        """Reconcile every open job whose execution is no longer running, and give back the export
        slots of jobs that are over; returns the jobs it failed."""
        moment = now or datetime.now(UTC)
        reconciled = []
        for job in self.jobs.open_jobs(created_before=format_timestamp(moment - START_GRACE)):
            status = self.workflow.status(job.id)
            if status != "RUNNING" and self.execution_ended(job.store_id, job.id, status) == "failed":
                reconciled.append(job)
        self.release_stale_slots()
        return reconciled

    def release_stale_slots(self) -> list[str]:
        """Slots held by jobs that are final (a step stopped between recording the outcome and giving
        the slot back) or gone are given back; returns those jobs' ids."""
        released = []
        for store_id in self.jobs.stores_with_slot_holders():
            for job_id in self.jobs.slot_holders(store_id):
                try:
                    over = self.jobs.get(store_id, job_id).status in FINAL_STATUSES
                except NotFound:
                    over = True
                if over and self.jobs.release_slot(store_id, job_id):
                    logger.warning("released the slot of a finished export", extra={"job_id": job_id})
                    released.append(job_id)
        return released
