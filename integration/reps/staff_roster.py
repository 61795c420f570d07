"""The settings page's roster toggle on a staff row, as the reps domain sees it: the staff member's role and
their rep (``Rep``) move together, so the settings page, the merchant's roster page and ``reps list`` agree.

Putting a staff member on the roster creates their rep (name and email from the staff row, the shop's time
zone, 150 customers, the default hours; the merchant edits them on the roster page), or brings back the rep
they were; taking them off is what ``reps leave`` does: they leave, and their book is handed over (a job
queued once the change commits).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from integration.reps.landing import rep_for_staff
from integration.reps.models import DUNBAR, RepState
from integration.reps.roster import DEFAULT_HOURS, RepInput, RosterError, add_rep, find_rep, leave
from integration.reps.tasks import hand_over_after_commit
from integration.shops.models import Shop, StaffRole, StaffUser


def put_on_roster(db: Session, shop: Shop, person: StaffUser) -> str:
    """Make ``person`` a rep; returns what to tell the merchant. RosterError: they cannot be one."""
    who = person.name or person.email or "This person"
    email = (person.email or "").strip().lower()
    if not email:
        raise RosterError(
            f"{who} has no email address from the platform (a verified one), and a rep needs one: it is how "
            "they sign in and get their calls. Add them on the Reps page with an address instead."
        )
    existing = find_rep(db, shop.id, email)
    if existing is not None and existing.state != RepState.LEFT:
        existing.staff_user_id = person.id  # the rep was added by address; now linked to their sign-in
        if person.role == StaffRole.STAFF:
            person.role = StaffRole.REP
        return f"{who} is already on the roster."
    name = (person.name or email.split("@", 1)[0]).strip()[:255]
    data = RepInput(name=name, email=email, time_zone=shop.time_zone or "UTC", capacity=DUNBAR, hours=DEFAULT_HOURS)
    add_rep(db, shop.id, data, staff_user_id=person.id)
    person.role = StaffRole.REP if person.role == StaffRole.STAFF else person.role
    return f"{who} added to the roster."


def take_off_roster(db: Session, person: StaffUser) -> str:
    """``person`` stops being a rep: like ``reps leave``, their customers are handed over to the others."""
    who = person.name or person.email or "This person"
    rep = rep_for_staff(db, person.shop_id, person.id, person.email)
    if person.role == StaffRole.REP:
        person.role = StaffRole.STAFF
    if rep is None:
        return f"{who} removed from the roster."
    book = rep.book_size
    leave(db, rep)
    hand_over_after_commit(db, rep.id)
    if not book:
        return f"{who} removed from the roster."
    return f"{who} removed from the roster; their {book} customers are being handed over to the other reps."
