"""Where a person lands after opening the app from their platform's admin (Shopify's app home, BigCommerce's
load callback): the shop's admin on the settings page, a rep in their workspace.

One decision for both platforms; the platform packages only call :func:`landing_page` once they have
signed the person in. Staff who are neither (not on the roster) land on the settings page too, which tells
them only the shop's owner may change it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.reps.models import Rep, RepState
from integration.shops.models import StaffRole, StaffUser

SETTINGS = "/settings"
WORKSPACE = "/workspace"


def rep_for_staff(db: Session, shop_id: int, staff_id: int, email: str | None) -> Rep | None:
    """The rep a staff member of the shop is (linked on the roster, else by the same email), unless they left."""
    same_person = Rep.staff_user_id == staff_id
    if email:
        same_person = sa.or_(same_person, Rep.email == email.strip().lower())
    return db.scalar(
        sa.select(Rep)
        .where(Rep.shop_id == shop_id, Rep.state != RepState.LEFT, same_person)
        .order_by((Rep.staff_user_id == staff_id).desc(), Rep.id)
        .limit(1)
    )


def landing_page(db: Session, staff: StaffUser) -> str:
    """The path to send a person the platform just signed in to."""
    if staff.role == StaffRole.ADMIN:
        return SETTINGS
    if rep_for_staff(db, staff.shop_id, staff.id, staff.email) is not None:
        return WORKSPACE
    return SETTINGS
