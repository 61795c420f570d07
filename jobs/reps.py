"""Reps: handing a leaver's book over, check-ins made due, the sweep, the morning digests and reps back
from being away, run by RQ (see integration.reps)."""

from __future__ import annotations

import logging

from integration.core.runtime import get_runtime
from integration.messaging.outbox import relay
from integration.reps.digest import write_digests
from integration.reps.roster import hand_over as hand_over_book
from integration.reps.roster import return_due_reps
from integration.reps.tasks import requeue_hand_overs, unfinished_hand_overs
from integration.reps.timers import make_due, make_overdue_due

log = logging.getLogger(__name__)


def hand_over(rep_id: int) -> dict[str, int]:
    """Give each customer of a rep who left a new rep; returns how many moved and how many wait."""
    with get_runtime().session() as session:
        moved, waiting = hand_over_book(session, rep_id)
    return {"moved": moved, "waiting": waiting}


def checkin_due(checkin_id: int) -> bool:
    """A check-in's time has come (enqueued with ``enqueue_at``): ``scheduled`` becomes ``due``."""
    with get_runtime().session() as session:
        return make_due(session, checkin_id)


def sweep_checkins() -> int:
    """The safety net for lost jobs: every scheduled check-in past its time becomes due, and a leaver who
    still holds customers gets their hand-over queued again."""
    runtime = get_runtime()
    with runtime.session() as session:
        made_due = make_overdue_due(session)
        leavers = unfinished_hand_overs(session)
    if made_due:
        log.info("check-in sweep: %d task(s) made due without their job", made_due)
    if requeued := requeue_hand_overs(runtime, leavers):
        log.info("check-in sweep: %d hand-over(s) queued again", requeued)
    return made_due


def morning_digests() -> int:
    """Write each rep's digest of the day's calls once their local time passes 08:00."""
    runtime = get_runtime()
    with runtime.session() as session:
        written = write_digests(session)
    if written:
        relay(runtime)  # send them now rather than at the relay's next run
    return written


def return_away_reps() -> int:
    """Reps whose away dates are over (on their own clock) are active again; returns how many."""
    with get_runtime().session() as session:
        back = return_due_reps(session)
    if back:
        log.info("%d rep(s) back from being away", len(back))
    return len(back)
