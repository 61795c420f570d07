"""The reps domain's jobs: handing a leaver's book over (one job per rep who leaves), and the periodic
jobs (the sweep that makes overdue check-ins due when Redis lost their job, the morning digests, and
bringing back reps whose away dates are over)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from integration.core.periodic import Periodic, every
from integration.core.queues import EVENTS, live_job_ids
from integration.core.runtime import Runtime

HAND_OVER = "jobs.reps.hand_over"

# One UPDATE on a partial index: a short maintenance job.
SWEEP_CHECKINS = Periodic("jobs.reps.sweep_checkins", every=every(300), timeout=120)
# Every 15 minutes, so each rep's digest goes out within a quarter of an hour of 08:00 in their zone.
MORNING_DIGESTS = Periodic("jobs.reps.morning_digests", every=every(900), timeout=600)

# Away dates end at midnight in each rep's own zone, so the check runs every 15 minutes (a handful of
# away reps across all shops: one small query) rather than once a day at a UTC hour.
RETURN_AWAY_REPS = Periodic("jobs.reps.return_away_reps", every=every(900), timeout=300)

PERIODIC = (SWEEP_CHECKINS, MORNING_DIGESTS, RETURN_AWAY_REPS)


def hand_over_job_id(rep_id: int) -> str:
    return f"hand-over-{rep_id}"


def enqueue_hand_over(runtime: Runtime, rep_id: int) -> None:
    # On the events queue: a book is at most a few hundred quick updates, and customers should not wait
    # behind a backfill to learn who their new contact is.
    runtime.queue(EVENTS).enqueue(HAND_OVER, rep_id, job_id=hand_over_job_id(rep_id), job_timeout=600, result_ttl=86400)


def unfinished_hand_overs(session: Session) -> list[int]:
    """Reps who left but still hold customers: their hand-over job was lost (Redis restarted before it
    ran) or failed. Leavers are few and ``ix_customers_rep`` answers each EXISTS."""
    from integration.customers.models import Customer
    from integration.reps.models import Rep, RepState

    holds = sa.select(Customer.id).where(Customer.rep_id == Rep.id).exists()
    return list(session.scalars(sa.select(Rep.id).where(Rep.state == RepState.LEFT, holds).order_by(Rep.id)))


def requeue_hand_overs(runtime: Runtime, rep_ids: list[int]) -> int:
    """Queue the hand-over again for each rep whose job is not waiting or running; returns how many."""
    live = live_job_ids(runtime.redis, [hand_over_job_id(i) for i in rep_ids])
    lost = [rep_id for rep_id in rep_ids if hand_over_job_id(rep_id) not in live]
    for rep_id in lost:
        enqueue_hand_over(runtime, rep_id)
    return len(lost)


_HAND_OVERS = "reps.hand_overs"


def hand_over_after_commit(session: Session, rep_id: int) -> None:
    """Queue the hand-over of a leaver's book once this session commits: the job must read the rep as left
    (or it could give customers back to them), and a rolled-back leave queues nothing."""
    session.info.setdefault(_HAND_OVERS, set()).add(rep_id)


@event.listens_for(Session, "after_commit")
def _queue_hand_overs(session: Session) -> None:
    rep_ids: set[int] | None = session.info.pop(_HAND_OVERS, None)
    runtime = session.info.get("runtime")
    if rep_ids and isinstance(runtime, Runtime):
        for rep_id in sorted(rep_ids):
            enqueue_hand_over(runtime, rep_id)


@event.listens_for(Session, "after_rollback")
def _forget_hand_overs(session: Session) -> None:
    session.info.pop(_HAND_OVERS, None)
