"""Post-purchase check-ins: a call once the order has reached the customer.

**Trigger.** What reached the customer is read from the stored rows (so it does not matter in which order
the order, its fulfilments and their tracking steps arrive, nor from which platform): a fulfilment seen
delivered (a Shopify tracking step ``delivered``, or a fulfilment whose ``delivered_at`` is known); failing
that, the earliest shipment plus the shop's transit days (a BigCommerce shipment, a Shopify fulfilment); failing
that, an order whose status says fulfilled (BigCommerce *Shipped* / *Completed*) plus transit days. Test,
cancelled and fully refunded orders never trigger, nor does an order without a customer. A real delivery
reported later moves a task that is still scheduled on an estimate.

**Due.** The delivery plus the shop's delay, moved to the first moment inside both the customer's calling
window (in the customer's zone, else the shop's) and the rep's working hours (``schedule.due_slot``); when
no common moment exists within 7 days the task is due in the rep's next working hour, flagged
``outside_window``. When that day falls in the rep's away dates the backup works it, so the slot follows
the backup's hours; the task stays in the book owner's name (``rep_id``) and :func:`works_it` says who calls.

**One task per customer.** A second delivery before the call joins the open task (``checkin_orders``), the
partial unique index deciding between two workers. At most one post-purchase call per customer per
``min_days_between`` days. A customer who does not want calls gets none, and their open tasks are cancelled;
a task is cancelled when its only order is cancelled or refunded (the order leaves it when it has others).

Rows are the truth; each open task has an RQ job (``integration.reps.timers``) made due at its time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core import telemetry
from integration.core.batches import batch_cached
from integration.core.db import dialect_insert, utcnow
from integration.customers.models import Customer, Fulfillment, Order
from integration.events.changes import FulfillmentStatus, OrderStatus
from integration.reps.hours import WeeklyHours, parse_hours, zone
from integration.reps.models import OPEN_CHECKIN, CheckIn, CheckInOrder, CheckInSettings, CheckInStatus, Rep, RepState
from integration.reps.schedule import Slot, due_slot
from integration.reps.timers import plan
from integration.shops.models import Shop

POST_PURCHASE = "post_purchase"
FOLLOW_UP = "follow_up"
DEFAULT_WINDOW = "Mon-Fri 10:00-19:00"
DEFAULT_WINDOW_HOURS = parse_hours(DEFAULT_WINDOW)
# Call consent in these states means no calls (the platforms' words, the preference centre's, a rep's).
NO_CALLS = frozenset({"unsubscribed", "declined", "opted_out", "redacted"})
# A delivery whose call would have been due this long ago is history (a backfill of old orders), not a task.
STALE_AFTER = dt.timedelta(days=14)
_DEAD_ORDER: dict[str, str] = {OrderStatus.CANCELLED: "order cancelled", OrderStatus.REFUNDED: "order refunded"}


@dataclass(frozen=True)
class Rules:
    """A shop's check-in settings, with the defaults where the merchant set nothing."""

    transit_days: int = 4
    delay_days: int = 2
    min_days_between: int = 30
    window: WeeklyHours = field(default_factory=lambda: DEFAULT_WINDOW_HOURS)
    shop_zone: str | None = None


def rules_for(session: Session, shop_id: int) -> Rules:
    return batch_cached(session, "check-in rules", shop_id, lambda: _read_rules(session, shop_id))


def _read_rules(session: Session, shop_id: int) -> Rules:
    shop_zone = session.scalar(sa.select(Shop.time_zone).where(Shop.id == shop_id))
    row = session.get(CheckInSettings, shop_id)
    if row is None:
        return Rules(shop_zone=shop_zone)
    try:
        window = parse_hours(row.calling_window or DEFAULT_WINDOW)
    except ValueError:
        window = DEFAULT_WINDOW_HOURS  # a stored window we cannot read: the default, never no calls at all
    return Rules(row.transit_days, row.delay_days, row.min_days_between, window, shop_zone)


@dataclass(frozen=True)
class Delivery:
    at: dt.datetime
    estimated: bool


def delivery_of(session: Session, order: Order, rules: Rules) -> Delivery | None:
    """When the order reached (or will have reached) the customer, from what we hold; None: not shipped."""
    parcels = session.execute(
        sa.select(Fulfillment.shipped_at, Fulfillment.delivered_at).where(
            Fulfillment.shop_id == order.shop_id,
            Fulfillment.platform_order_id == order.platform_order_id,
            Fulfillment.status != FulfillmentStatus.CANCELLED,
        )
    ).all()
    delivered = [p.delivered_at for p in parcels if p.delivered_at is not None]
    if delivered:
        return Delivery(min(delivered), estimated=False)
    transit = dt.timedelta(days=rules.transit_days)
    shipped = [p.shipped_at for p in parcels if p.shipped_at is not None]
    if shipped:
        return Delivery(min(shipped) + transit, estimated=True)
    if order.status == OrderStatus.FULFILLED:
        return Delivery(order.source_updated_at + transit, estimated=True)
    return None


def order_is_callable(order: Order) -> bool:
    return not order.test and order.cancelled_at is None and order.status not in _DEAD_ORDER


def wants_no_calls(call_consent: str | None) -> bool:
    return (call_consent or "").strip().lower() in NO_CALLS


# --- who works a task, and when ---------------------------------------------------------------------


def away_on(rep: Rep, moment: dt.datetime) -> bool:
    """Whether ``moment`` falls in the rep's away dates (in the rep's own zone) with a backup to cover."""
    if rep.state != RepState.AWAY or rep.backup_rep_id is None or rep.away_until is None:
        return False
    day = moment.astimezone(zone(rep.time_zone)).date()
    return (rep.away_from is None or rep.away_from <= day) and day <= rep.away_until


def works_it(owner: Rep | None, reps: dict[int, Rep], due_at: dt.datetime) -> Rep | None:
    """Who calls: the backup when the task is due in the owner's away dates, else the owner."""
    if owner is not None and away_on(owner, due_at) and owner.backup_rep_id in reps:
        return reps[owner.backup_rep_id]
    return owner


def slot_for(
    session: Session, rules: Rules, customer_zone: str | None, rep_id: int | None, earliest: dt.datetime
) -> Slot:
    """The first moment from ``earliest`` inside the customer's window and the working rep's hours."""
    customer_tz = zone(customer_zone or rules.shop_zone)
    rep = session.get(Rep, rep_id) if rep_id is not None else None
    slot = _slot(earliest, customer_tz, rules.window, rep)
    if rep is not None and away_on(rep, slot.due_at):
        backup = session.get(Rep, rep.backup_rep_id)
        if backup is not None and backup.state != RepState.LEFT:
            slot = _slot(earliest, customer_tz, rules.window, backup)
    return slot


def _slot(earliest: dt.datetime, customer_tz: ZoneInfo, window: WeeklyHours, rep: Rep | None) -> Slot:
    if rep is None:  # waiting in the pool: the customer's window alone (a rep will be assigned)
        return due_slot(earliest, customer_tz, window, customer_tz, window)
    hours = WeeklyHours.from_json(rep.working_hours)
    if hours.empty:  # a rep without hours: the customer's window alone
        return due_slot(earliest, customer_tz, window, customer_tz, window)
    return due_slot(earliest, customer_tz, window, zone(rep.time_zone), hours)


# --- opening, folding, moving ----------------------------------------------------------------------


def on_order(session: Session, shop_id: int, platform_order_id: str, *, now: dt.datetime | None = None) -> int | None:
    """React to anything new about an order (itself, a fulfilment, a tracking step). Returns the id of the
    check-in that covers it, if any."""
    now = now or utcnow()
    order = session.scalar(
        sa.select(Order).where(Order.shop_id == shop_id, Order.platform_order_id == platform_order_id)
    )
    if order is None or order.customer_id is None:
        return None  # a fulfilment ahead of its order: the order's own event comes back here
    covering = session.scalar(sa.select(CheckIn).join(CheckInOrder).where(CheckInOrder.order_id == order.id))
    if not order_is_callable(order):
        if covering is not None:
            drop_order(session, covering, order, now=now)
        return None
    rules = rules_for(session, shop_id)
    delivery = delivery_of(session, order, rules)
    if delivery is None:
        return None
    if covering is not None:
        if covering.delivery_estimated and not delivery.estimated:
            _move_to_real_delivery(session, covering, delivery, rules, now)
        return covering.id
    return _open_or_fold(session, order, delivery, rules, now)


def _open_or_fold(session: Session, order: Order, delivery: Delivery, rules: Rules, now: dt.datetime) -> int | None:
    customer = session.execute(
        sa.select(Customer.id, Customer.rep_id, Customer.time_zone, Customer.call_consent, Customer.deleted_at)
        .where(Customer.id == order.customer_id)
        .with_for_update()
    ).one()
    if customer.deleted_at is not None or wants_no_calls(customer.call_consent):
        return None
    earliest = delivery.at + dt.timedelta(days=rules.delay_days)
    if earliest < now - STALE_AFTER:
        return None
    open_task = _open_task(session, customer.id)
    if open_task is not None:
        _cover(session, open_task, order.id)
        return open_task
    if _called_lately(session, customer.id, earliest, rules):
        return None
    slot = slot_for(session, rules, customer.time_zone, customer.rep_id, max(earliest, now))
    checkin_id = session.execute(
        dialect_insert(session)(CheckIn)
        .values(
            shop_id=order.shop_id,
            customer_id=customer.id,
            rep_id=customer.rep_id,
            kind=POST_PURCHASE,
            status=CheckInStatus.SCHEDULED,
            delivered_at=delivery.at,
            delivery_estimated=delivery.estimated,
            due_at=slot.due_at,
            outside_window=slot.outside_window,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()  # another worker opened this customer's task meanwhile: join it
        .returning(CheckIn.id)
    ).scalar()
    if checkin_id is None:
        open_task = _open_task(session, customer.id)
        if open_task is None:
            return None
        _cover(session, open_task, order.id)
        return open_task
    _cover(session, int(checkin_id), order.id)
    plan(session, int(checkin_id), slot.due_at)
    telemetry.checkin_changed(session, "created")
    return int(checkin_id)


def _open_task(session: Session, customer_id: int) -> int | None:
    return session.scalar(
        sa.select(CheckIn.id).where(
            CheckIn.customer_id == customer_id, CheckIn.kind == POST_PURCHASE, CheckIn.status.in_(OPEN_CHECKIN)
        )
    )


def _cover(session: Session, checkin_id: int, order_id: int) -> None:
    session.execute(
        dialect_insert(session)(CheckInOrder).values(checkin_id=checkin_id, order_id=order_id).on_conflict_do_nothing()
    )


def _called_lately(session: Session, customer_id: int, earliest: dt.datetime, rules: Rules) -> bool:
    """A post-purchase call (made, or tried until unreachable) within ``min_days_between`` of this one."""
    since = earliest - dt.timedelta(days=rules.min_days_between)
    return (
        session.scalar(
            sa.select(CheckIn.id)
            .where(
                CheckIn.customer_id == customer_id,
                CheckIn.kind == POST_PURCHASE,
                CheckIn.status != CheckInStatus.CANCELLED,
                sa.func.coalesce(CheckIn.closed_at, CheckIn.due_at) > since,
            )
            .limit(1)
        )
        is not None
    )


def _move_to_real_delivery(
    session: Session, checkin: CheckIn, delivery: Delivery, rules: Rules, now: dt.datetime
) -> None:
    checkin.delivered_at, checkin.delivery_estimated = delivery.at, False
    if checkin.status != CheckInStatus.SCHEDULED:
        return  # already due: the call is on the rep's list, moving it would only hide it
    customer_zone = session.scalar(sa.select(Customer.time_zone).where(Customer.id == checkin.customer_id))
    earliest = max(delivery.at + dt.timedelta(days=rules.delay_days), now)
    reschedule(session, checkin, slot_for(session, rules, customer_zone, checkin.rep_id, earliest), now=now)


def reschedule(session: Session, checkin: CheckIn, slot: Slot, *, now: dt.datetime) -> None:
    checkin.due_at, checkin.outside_window = slot.due_at, slot.outside_window
    checkin.status, checkin.updated_at = CheckInStatus.SCHEDULED, now
    plan(session, checkin.id, slot.due_at)


def reslot_book(session: Session, rep_id: int, *, now: dt.datetime | None = None) -> int:
    """The rep went away or came back: their scheduled tasks are placed again, on the same local day where
    possible, in the hours of whoever works them now (the backup in the away dates). Returns how many moved."""
    now = now or utcnow()
    rows = session.execute(
        sa.select(CheckIn, Customer.time_zone)
        .join(Customer, Customer.id == CheckIn.customer_id)
        .where(CheckIn.rep_id == rep_id, CheckIn.status == CheckInStatus.SCHEDULED, CheckIn.due_at > now)
    ).all()
    if not rows:
        return 0
    rules = rules_for(session, rows[0][0].shop_id)
    return sum(_place_again(session, checkin, rules, customer_zone, now) for checkin, customer_zone in rows)


def follow_customer(
    session: Session, shop_id: int, customer_id: int, rep_id: int | None, *, now: dt.datetime | None = None
) -> int:
    """The customer's open tasks go where the customer goes: to their new rep, or to the pool (``rep_id``
    None) when every book is full. Scheduled tasks are placed again in the hours of whoever works them now
    (the customer's window alone in the pool), by the rules they were first placed by; their jobs follow
    after the commit. A task already due stays due: it is on the list to call, and moving it would only
    hide it. Returns how many tasks were moved in time."""
    now = now or utcnow()
    tasks = session.scalars(
        sa.select(CheckIn).where(
            CheckIn.shop_id == shop_id, CheckIn.customer_id == customer_id, CheckIn.status.in_(OPEN_CHECKIN)
        )
    ).all()
    if not tasks:
        return 0
    for checkin in tasks:
        checkin.rep_id = rep_id
    scheduled = [checkin for checkin in tasks if checkin.status == CheckInStatus.SCHEDULED]
    if not scheduled:
        return 0
    rules = rules_for(session, shop_id)
    customer_zone = session.scalar(sa.select(Customer.time_zone).where(Customer.id == customer_id))
    return sum(_place_again(session, checkin, rules, customer_zone, now) for checkin in scheduled)


def _place_again(session: Session, checkin: CheckIn, rules: Rules, customer_zone: str | None, now: dt.datetime) -> bool:
    """Place a scheduled task again for whoever works it now: from the start of the customer's day it was
    due on (so a call keeps its day where the new hours allow), never before the delivery's delay has
    passed, nor in the past. True if it moved."""
    tz = zone(customer_zone or rules.shop_zone)
    earliest = dt.datetime.combine(checkin.due_at.astimezone(tz).date(), dt.time(0, 0), tz).astimezone(dt.UTC)
    if checkin.kind == POST_PURCHASE and checkin.delivered_at is not None:
        earliest = max(earliest, checkin.delivered_at + dt.timedelta(days=rules.delay_days))
    slot = slot_for(session, rules, customer_zone, checkin.rep_id, max(earliest, now))
    if (slot.due_at, slot.outside_window) == (checkin.due_at, checkin.outside_window):
        return False
    reschedule(session, checkin, slot, now=now)
    return True


# --- closing ---------------------------------------------------------------------------------------


def close(session: Session, checkin: CheckIn, status: CheckInStatus, reason: str, *, now: dt.datetime) -> None:
    checkin.status, checkin.closed_at, checkin.close_reason, checkin.updated_at = status, now, reason[:255], now
    plan(session, checkin.id, None)
    telemetry.checkin_changed(session, str(status))


def drop_order(session: Session, checkin: CheckIn, order: Order, *, now: dt.datetime) -> None:
    """The order was cancelled or refunded: it leaves its open task, which is cancelled if it was the only one."""
    if checkin.status not in OPEN_CHECKIN:
        return
    others = session.scalar(
        sa.select(sa.func.count()).where(CheckInOrder.checkin_id == checkin.id, CheckInOrder.order_id != order.id)
    )
    if others:
        session.execute(
            sa.delete(CheckInOrder).where(CheckInOrder.checkin_id == checkin.id, CheckInOrder.order_id == order.id)
        )
        return
    reason = "order cancelled" if order.cancelled_at is not None else _DEAD_ORDER.get(order.status, "order void")
    close(session, checkin, CheckInStatus.CANCELLED, reason, now=now)


def cancel_open(session: Session, customer_id: int, reason: str, *, now: dt.datetime | None = None) -> int:
    """Cancel every open task of a customer (post-purchase and follow-ups); returns how many."""
    now = now or utcnow()
    tasks = session.scalars(
        sa.select(CheckIn).where(CheckIn.customer_id == customer_id, CheckIn.status.in_(OPEN_CHECKIN))
    ).all()
    for checkin in tasks:
        close(session, checkin, CheckInStatus.CANCELLED, reason, now=now)
    return len(tasks)


def on_call_consent(session: Session, customer_id: int, *, now: dt.datetime | None = None) -> int:
    """After a calls consent change: a customer who wants no calls keeps no open task."""
    consent = session.scalar(sa.select(Customer.call_consent).where(Customer.id == customer_id))
    if not wants_no_calls(consent):
        return 0
    return cancel_open(session, customer_id, "customer does not want calls", now=now)
