"""Who is signed in: staff users known from the platform's own sign-in, kept in the session cookie.

A person reaches us only through their platform: Shopify's App Bridge session token (the embedded app)
or BigCommerce's signed ``load`` callback. Either names the shop and the user; :func:`record_staff`
keeps a row per person and :func:`sign_in` puts its id in the (signed, HttpOnly) session cookie. Every
page except the preference centre requires a signed-in person (:func:`staff_required`), and the
merchant's settings require the shop's admin (:func:`admin_required`).

How long a session counts (integration/core/sessions.py): ``SESSION_LIFETIME`` (12 h) from sign-in,
never extended; and, where the platform never tells us someone was removed (Shopify), only while a
platform token confirmed the person within its ``confirm_staff_every`` (1 h). Every load of the
app from the Shopify admin brings a fresh token and confirms them; past the hour a page answers 401 and
the person opens the app from their admin again. BigCommerce tells us (``remove-user``), so its sessions
just end at 12 h. Sessions from before these rules (no sign-in time) count as ended.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import abort, g, session
from sqlalchemy.orm import Session

from integration import runtime_of
from integration.core.db import dialect_insert, utcnow
from integration.core.sessions import SESSION_LIFETIME
from integration.platforms.registry import PLATFORMS
from integration.shops.models import Shop, ShopState, StaffRole, StaffUser

SESSION_STAFF = "staff_id"
SESSION_SHOP = "shop_id"
SESSION_SIGNED_IN = "signed_in_at"  # Unix seconds of the sign-in; never moved
SESSION_CONFIRMED = "confirmed_at"  # Unix seconds the platform last vouched for the person
SIGNED_OUT_MESSAGE = "sign in by opening the app from your Shopify or BigCommerce admin"

View = TypeVar("View", bound=Callable[..., Any])


def record_staff(
    db: Session, shop_id: int, platform_user_id: str, *, email: str | None, name: str | None, owner: bool | None
) -> StaffUser:
    """The staff row for this platform user (created on first sign-in). A user the platform removed and
    who signs in again is active again.

    ``owner`` is what the platform says: True, the person owns the shop and is its admin; False, they do
    not, and if they were the admin only because they owned it, they are not any more (ownership moved);
    None, the platform did not say, and nothing changes. Being first to open the app makes nobody the
    admin, and an admin the merchant chose (not the owner) stays one.
    """
    mine = sa.select(StaffUser).where(StaffUser.shop_id == shop_id, StaffUser.platform_user_id == platform_user_id)
    staff = db.scalar(mine)
    if staff is None:
        # A person's first open can arrive twice at once (two frames, a retry): the second insert waits
        # for the first and does nothing, and both go on with the one row.
        db.execute(
            dialect_insert(db)(StaffUser)
            .values(
                shop_id=shop_id,
                platform_user_id=platform_user_id,
                role=StaffRole.STAFF.value,
                is_owner=False,
                active=True,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        staff = db.scalars(mine).one()
    if owner:
        staff.role, staff.is_owner = StaffRole.ADMIN, True
    elif owner is False and staff.is_owner:
        staff.is_owner = False
        if staff.role == StaffRole.ADMIN:
            staff.role = StaffRole.STAFF
    staff.email = email or staff.email
    staff.name = name or staff.name
    staff.active = True
    staff.last_seen_at = utcnow()
    db.flush()
    if owner:
        ownership_moved(db, shop_id, platform_user_id)
    return staff


def ownership_moved(db: Session, shop_id: int, owner_user_id: str) -> int:
    """The platform names ``owner_user_id`` as the shop's owner: their row (if we know them) is the
    owner and admin, and anyone else we held as the owner stops being it, and stops being the admin
    for it. Returns how many people lost it."""
    db.execute(
        sa.update(StaffUser)
        .where(StaffUser.shop_id == shop_id, StaffUser.platform_user_id == owner_user_id)
        .values(is_owner=True, role=StaffRole.ADMIN.value)
    )
    result = db.execute(
        sa.update(StaffUser)
        .where(StaffUser.shop_id == shop_id, StaffUser.is_owner, StaffUser.platform_user_id != owner_user_id)
        .values(
            is_owner=False,
            role=sa.case((StaffUser.role == StaffRole.ADMIN, StaffRole.STAFF.value), else_=StaffUser.role),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def sign_in(staff: StaffUser) -> None:
    """The platform vouched for this person just now. Their own unexpired session is confirmed (it keeps
    its sign-in time, and so its end, and its CSRF token); otherwise a fresh session starts (a new cookie:
    no fixation of an earlier one, nobody else's session carried on)."""
    now = int(time.time())
    if session.get(SESSION_STAFF) == staff.id and session.get(SESSION_SHOP) == staff.shop_id and _alive(now):
        session[SESSION_CONFIRMED] = now
        return
    session.clear()
    session[SESSION_STAFF] = staff.id
    session[SESSION_SHOP] = staff.shop_id
    session[SESSION_SIGNED_IN] = now
    session[SESSION_CONFIRMED] = now
    session.permanent = True


def _stamp(name: str) -> int | None:
    value = session.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _alive(now: float) -> bool:
    """The session's sign-in was less than SESSION_LIFETIME ago (an older or unstamped one has ended)."""
    signed_in = _stamp(SESSION_SIGNED_IN)
    return signed_in is not None and now - signed_in < SESSION_LIFETIME


def _confirmed(shop: Shop, now: float) -> bool:
    """The platform vouched for the person recently enough (Shopify: within the hour; BigCommerce, which
    reports removed users, has no such rule)."""
    parts = PLATFORMS.get(shop.platform)
    every = parts.confirm_staff_every if parts is not None else None
    if every is None:
        return True
    confirmed = _stamp(SESSION_CONFIRMED)
    return confirmed is not None and now - confirmed < every


def sign_out() -> None:
    session.clear()


def current_staff() -> tuple[StaffUser, Shop] | None:
    """The signed-in person and their shop, if both are still active and the session has not ended
    (loaded once per request)."""
    if "staff" in g:
        return cast("tuple[StaffUser, Shop] | None", g.staff)
    found: tuple[StaffUser, Shop] | None = None
    staff_id, shop_id = session.get(SESSION_STAFF), session.get(SESSION_SHOP)
    now = time.time()
    if isinstance(staff_id, int) and isinstance(shop_id, int) and not _alive(now):
        session.clear()  # ended for good (12 h after sign-in): the cookie goes
    elif isinstance(staff_id, int) and isinstance(shop_id, int):
        from flask import current_app

        with runtime_of(current_app).session() as db:
            row = db.execute(
                sa.select(StaffUser, Shop)
                .join(Shop, Shop.id == StaffUser.shop_id)
                .where(StaffUser.id == staff_id, Shop.id == shop_id, StaffUser.active, Shop.state == ShopState.ACTIVE)
            ).one_or_none()
            # A session past its confirmation is kept but not honoured until a fresh token confirms it.
            if row is not None and _confirmed(row[1], now):
                db.expunge_all()
                found = (row[0], row[1])
    g.staff = found
    return found


def staff_required(view: View) -> View:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_staff() is None:
            abort(401, description=SIGNED_OUT_MESSAGE)
        return view(*args, **kwargs)

    return cast(View, wrapper)


def admin_required(view: View) -> View:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        found = current_staff()
        if found is None:
            abort(401, description=SIGNED_OUT_MESSAGE)
        if found[0].role != StaffRole.ADMIN:
            abort(403, description="only the shop's owner can change its settings")
        return view(*args, **kwargs)

    return cast(View, wrapper)
