"""What every RQ worker of the app adds to RQ's: job metrics and the job's ids on its log lines.

Measured around ``execute_job``, which runs in the worker process itself (the forking worker's work horse
is a new process per job: metrics written there would leave a metrics file per job behind).
"""

from __future__ import annotations

import time
from typing import Any

from rq.job import Job, JobStatus
from rq.queue import Queue

from integration.core import telemetry
from integration.core.logs import job_context
from integration.core.queues import PROCESS_EVENT, PROCESS_EVENTS


def job_fields(job: Job) -> dict[str, Any]:
    """The ids a job's log lines carry (jobs take ids only, so its arguments are ids)."""
    fields: dict[str, Any] = {"job_id": job.id, "job": job.func_name}
    if job.func_name == PROCESS_EVENT and job.args:
        fields["event_id"] = job.args[0]
    elif job.func_name == PROCESS_EVENTS and job.args and isinstance(job.args[0], list | tuple):
        fields["event_ids"] = [i for i in job.args[0] if isinstance(i, int)]  # a relay batch (ids only)
    elif job.args:
        fields["job_args"] = [a for a in job.args if isinstance(a, int | str)][:4]
    return fields


class MeteredJobs:
    """Mixed in before an RQ worker class (``run_worker`` does it)."""

    def execute_job(self, job: Job, queue: Queue) -> Any:
        token = job_context.set(job_fields(job))
        started = time.perf_counter()
        try:
            return super().execute_job(job, queue)  # type: ignore[misc]
        finally:
            elapsed = time.perf_counter() - started
            try:
                failed = job.get_status(refresh=True) != JobStatus.FINISHED
            except Exception:
                failed = False
            telemetry.job_ran(job.func_name or "?", elapsed, failed)
            job_context.reset(token)


def metered(worker_class: type) -> type:
    return type(f"Metered{worker_class.__name__}", (MeteredJobs, worker_class), {})
