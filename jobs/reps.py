"""Reps: handing a leaver's book over, run by RQ (see integration.reps.roster)."""

from __future__ import annotations

from integration.core.runtime import get_runtime
from integration.reps.roster import hand_over as hand_over_book


def hand_over(rep_id: int) -> dict[str, int]:
    """Give each customer of a rep who left a new rep; returns how many moved and how many wait."""
    with get_runtime().session() as session:
        moved, waiting = hand_over_book(session, rep_id)
    return {"moved": moved, "waiting": waiting}
