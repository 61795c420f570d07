"""The RQ side of check-ins: one scheduled job per open task, made due at its time.

The ``checkins`` rows are the truth; a job only flips a row from ``scheduled`` to ``due`` at the right
moment. Each task has one job with a deterministic id (``checkin-{id}``), enqueued with ``enqueue_at`` into
RQ's ``ScheduledJobRegistry``. Changing a task's time deletes its job and enqueues a new one; closing or
cancelling it deletes the job.

Jobs are touched only **after the transaction that changed the rows commits** (an ``after_commit`` hook on
the session): a job never runs ahead of the row it reads, and a rolled-back change leaves Redis alone. If
Redis is unavailable, or the process dies between the commit and the enqueue, the periodic sweep
(:func:`make_overdue_due`) marks the row due anyway, a few minutes late, never lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import redis
import sqlalchemy as sa
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.core.queues import MAINTENANCE
from integration.reps.models import CheckIn, CheckInStatus

log = logging.getLogger(__name__)

CHECKIN_DUE = "jobs.reps.checkin_due"
# Flipping one row: short, so on the maintenance queue, served before any backlog of events.
CHECKIN_QUEUE = MAINTENANCE
# A job that RQ moves a little early (clock skew between hosts) still counts as on time.
EARLY_SLACK = dt.timedelta(seconds=60)
_PENDING = "reps.checkin_jobs"


def checkin_job_id(checkin_id: int) -> str:
    return f"checkin-{checkin_id}"


def plan(session: Session, checkin_id: int, due_at: dt.datetime | None) -> None:
    """After this session commits: make the task's job due at ``due_at`` (None: no job any more).

    The last plan for a task within one transaction wins.
    """
    session.info.setdefault(_PENDING, {})[checkin_id] = due_at


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: dict[int, dt.datetime | None] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    runtime: Any = session.info.get("runtime")
    if runtime is None:  # a session made outside Runtime.session(): the sweep makes these due
        log.warning("check-in jobs of %d task(s) not synced: the session has no runtime", len(pending))
        return
    try:
        sync_jobs(runtime.redis, pending)
    except (redis.RedisError, OSError) as exc:
        log.warning("check-in jobs of %d task(s) not synced (%s); the sweep will make them due", len(pending), exc)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def sync_jobs(connection: redis.Redis, pending: Mapping[int, dt.datetime | None]) -> None:
    """Replace (or remove) each task's job so that it fires at the task's time."""
    queue = Queue(CHECKIN_QUEUE, connection=connection)
    for checkin_id, due_at in pending.items():
        job_id = checkin_job_id(checkin_id)
        drop_job(connection, job_id)
        if due_at is not None:
            queue.enqueue_at(
                due_at,
                CHECKIN_DUE,
                checkin_id,
                job_id=job_id,
                job_timeout=60,
                result_ttl=3600,
                failure_ttl=7 * 86400,
                description=f"check-in {checkin_id} due",
            )


def drop_job(connection: redis.Redis, job_id: str) -> None:
    """Delete a job wherever it waits (scheduled registry or queue); a running one finishes on its own."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return
    if job.get_status(refresh=False) == JobStatus.STARTED:
        return  # it reads the row when it runs; deleting its hash under a worker helps nobody
    job.delete()


def make_due(session: Session, checkin_id: int, *, now: dt.datetime | None = None) -> bool:
    """The job's work: ``scheduled`` becomes ``due`` when its time has come. True if it changed.

    A stale job (the task was moved later, and its new job is waiting) changes nothing.
    """
    now = now or utcnow()
    changed = session.execute(
        sa.update(CheckIn)
        .where(
            CheckIn.id == checkin_id,
            CheckIn.status == CheckInStatus.SCHEDULED,
            CheckIn.due_at <= now + EARLY_SLACK,
        )
        .values(status=CheckInStatus.DUE, updated_at=now)
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]


def make_overdue_due(session: Session, *, now: dt.datetime | None = None) -> int:
    """The safety net: every ``scheduled`` task whose time has passed becomes ``due`` (Redis may have lost
    its job). Returns how many."""
    now = now or utcnow()
    changed = session.execute(
        sa.update(CheckIn)
        .where(CheckIn.status == CheckInStatus.SCHEDULED, CheckIn.due_at <= now)
        .values(status=CheckInStatus.DUE, updated_at=now)
    )
    return int(changed.rowcount or 0)  # type: ignore[attr-defined]
