"""Jobs API use cases: read jobs and their errors, cancel a job."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from product_export.adapters.jobs_table import JobsTable, TransitionRejected
from product_export.adapters.parts_bucket import PartsBucket
from product_export.adapters.workflow import ExportWorkflow
from product_export.errors import Unprocessable
from product_export.jobs.models import Job
from product_export.values import now_timestamp

logger = Logger()


class JobsService:
    def __init__(self, jobs: JobsTable, bucket: PartsBucket, workflow: ExportWorkflow) -> None:
        self.jobs = jobs
        self.bucket = bucket
        self.workflow = workflow

    def get(self, store_id: str, job_id: str) -> Job:
        return self.jobs.get(store_id, job_id)

    def list_jobs(self, store_id: str, *, offset: int, limit: int) -> tuple[list[Job], int]:
        return self.jobs.list_jobs(store_id, offset=offset, limit=limit)

    def errors(
        self, store_id: str, job_id: str, *, offset: int, limit: int
    ) -> tuple[list[tuple[str, str]], int]:
        self.jobs.get(store_id, job_id)  # 404 for an unknown or foreign job
        return self.jobs.errors(store_id, job_id, offset=offset, limit=limit)

    def cancel(self, store_id: str, job_id: str) -> Job:
        """Cancel a pending or started job (stopping its workflow, removing its parts). Idempotent."""
        job = self.jobs.get(store_id, job_id)
        if job.status == "cancelled":
            self.jobs.release_slot(store_id, job_id)  # in case an earlier cancel stopped before it
            return job
        now = now_timestamp()
        try:
            cancelled = self.jobs.transition(store_id, job_id, "cancelled", completed_at=now, updated_at=now)
        except TransitionRejected as rejected:
            if rejected.job.status == "cancelled":
                return rejected.job
            raise Unprocessable(
                f"Job {job_id} is already {rejected.job.status} and cannot be cancelled"
            ) from None
        # After the transition: a slot can no longer be taken for the job, so none is left held.
        self.jobs.release_slot(store_id, job_id)
        try:
            self.workflow.stop(job_id, cause="Cancelled through the jobs API")
        except Exception:
            # The job is already cancelled: every workflow step checks that and stops by itself.
            logger.warning("could not stop the export's execution", exc_info=True)
        self.bucket.delete_prefix(f"{store_id}/{job_id}/")
        return cancelled
