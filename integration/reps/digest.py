"""Each rep's morning digest: one email of the day's calls, in the rep's own time zone, at about 08:00.

A periodic job (every 15 minutes) writes one outbox row per rep whose local time has passed 08:00 and who
has calls to make that local day (overdue ones included); the row's dedupe key
``digest-{rep_id}-{local date}`` makes it one email per rep per day however often the job runs or
however many schedulers run it. It goes through the outbox like every email (``messaging.outbox``), which
sends it (or, without SMTP, keeps it). Nothing personal is
logged: counts only.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.messaging.models import OutboxMessage
from integration.messaging.outbox import Draft, queue_email
from integration.reps.hours import zone
from integration.reps.listing import CheckInView, list_checkins
from integration.reps.models import Rep, RepState
from integration.shops.models import Shop, ShopState

log = logging.getLogger(__name__)

TEMPLATE = "rep_digest"
MORNING = dt.time(8, 0)
_KEY_CHUNK = 500


@dataclass(frozen=True)
class Morning:
    rep: Rep
    day: dt.date  # the rep's local date
    ends_at: dt.datetime  # the end of that day, UTC
    key: str


def dedupe_key(rep_id: int, day: dt.date) -> str:
    return f"digest-{rep_id}-{day.isoformat()}"


def mornings(reps: list[Rep], now: dt.datetime) -> list[Morning]:
    """The reps whose local time has passed 08:00, with their local day."""
    found = []
    for rep in reps:
        tz = zone(rep.time_zone)
        local = now.astimezone(tz)
        if local.time() < MORNING:
            continue
        day = local.date()
        ends_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tz).astimezone(dt.UTC)
        found.append(Morning(rep, day, ends_at, dedupe_key(rep.id, day)))
    return found


def write_digests(session: Session, *, now: dt.datetime | None = None) -> int:
    """Write the digests that are due and not yet written; returns how many were written."""
    now = now or utcnow()
    reps = list(
        session.scalars(
            sa.select(Rep)
            .join(Shop, Shop.id == Rep.shop_id)
            .where(Rep.state != RepState.LEFT, Shop.state == ShopState.ACTIVE)
            .order_by(Rep.shop_id, Rep.id)
        )
    )
    waiting = mornings(reps, now)
    written = _written(session, [m.key for m in waiting])
    by_shop: dict[int, list[Morning]] = defaultdict(list)
    for morning in waiting:
        if (morning.rep.shop_id, morning.key) not in written:
            by_shop[morning.rep.shop_id].append(morning)
    count = 0
    for shop_id, shop_mornings in by_shop.items():
        latest = max(m.ends_at for m in shop_mornings)
        calls: dict[int, list[CheckInView]] = defaultdict(list)
        for view in list_checkins(session, shop_id, due_before=latest):
            if view.worker is not None:
                calls[view.worker.id].append(view)
        for morning in shop_mornings:
            todays = [view for view in calls.get(morning.rep.id, []) if view.due_at < morning.ends_at]
            if todays and _write(session, morning, todays, now):
                count += 1
    if count:
        log.info("morning digests written: %d", count)
    return count


def _written(session: Session, keys: list[str]) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for start in range(0, len(keys), _KEY_CHUNK):
        rows = session.execute(
            sa.select(OutboxMessage.shop_id, OutboxMessage.dedupe_key).where(
                OutboxMessage.dedupe_key.in_(keys[start : start + _KEY_CHUNK])
            )
        )
        found.update((int(shop_id), key) for shop_id, key in rows)
    return found


def _write(session: Session, morning: Morning, calls: list[CheckInView], now: dt.datetime) -> bool:
    subject, text, html_body = render(morning, calls, now)
    draft = Draft(
        shop_id=morning.rep.shop_id,
        dedupe_key=morning.key,
        template=TEMPLATE,
        recipient=morning.rep.email,
        subject=subject,
        text=text,
        html=html_body,
    )
    return queue_email(session, draft, now=now) is not None


def _day_words(day: dt.date) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"


def _line(view: CheckInView, rep_zone: str, now: dt.datetime) -> tuple[str, str, str, str]:
    """(your time, who, their time, about) for one call."""
    mine = view.due_at.astimezone(zone(rep_zone))
    theirs = view.customer_local_due
    when = mine.strftime("%H:%M") if view.due_at >= now else f"{mine.strftime('%H:%M')} (overdue)"
    who = view.customer_name or view.customer_email or f"customer {view.customer_id}"
    their_time = f"{theirs.strftime('%H:%M')} their time ({view.customer_zone})"
    if view.outside_window:
        their_time += ", outside their calling window"
    if view.kind == "follow_up":
        about = f"follow-up: {view.note}" if view.note else "follow-up"
    else:
        about = f"orders {', '.join(view.orders)}" if view.orders else "check-in"
    return when, who, their_time, about


def render(morning: Morning, calls: list[CheckInView], now: dt.datetime) -> tuple[str, str, str]:
    """Subject, plain text and simple HTML of one digest."""
    rep = morning.rep
    count = len(calls)
    plural = "call" if count == 1 else "calls"
    subject = f"Your {plural} today, {_day_words(morning.day)}: {count}"
    lines = [_line(view, rep.time_zone, now) for view in calls]
    text = "\n".join(
        [
            f"Good morning {rep.name},",
            "",
            f"{count} {plural} to make today, {_day_words(morning.day)} (times in {rep.time_zone}):",
            "",
            *(f"{when}  {who}, {their}, {about}" for when, who, their, about in lines),
            "",
            "Personal Commerce",
        ]
    )
    rows = "".join(
        f"<tr><td>{html.escape(when)}</td><td>{html.escape(who)}</td>"
        f"<td>{html.escape(their)}</td><td>{html.escape(about)}</td></tr>"
        for when, who, their, about in lines
    )
    html_body = (
        f"<p>Good morning {html.escape(rep.name)},</p>"
        f"<p>{count} {plural} to make today, {html.escape(_day_words(morning.day))} "
        f"(times in {html.escape(rep.time_zone)}):</p>"
        '<table><thead><tr><th scope="col">Your time</th><th scope="col">Customer</th>'
        '<th scope="col">Their time</th><th scope="col">About</th></tr></thead>'
        f"<tbody>{rows}</tbody></table><p>Personal Commerce</p>"
    )
    return subject, text, html_body
