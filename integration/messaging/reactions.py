"""What the messaging domain does with each change processing applies (same transaction as the change):
a qualifying paid order redeems the thank-you codes it used (``messaging.redemptions``) and queues its
customer's thank-you (``messaging.thankyou``), once the stored order knows when it was paid (``paid_at``: a
change may say it is paid without saying since when). Registered after the reps' reaction, so the customer
already has their rep (the thank-you's sender, and the book its code counts for)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.customers.models import Order
from integration.customers.upserts import written_order
from integration.events.changes import Change, OrderChange
from integration.messaging import redemptions, thankyou
from integration.reps.reactions import QUALIFYING


def after_change(session: Session, shop_id: int, change: Change, *, now: dt.datetime | None = None) -> None:
    if not isinstance(change, OrderChange) or change.status not in QUALIFYING or change.test:
        return
    written = written_order(session, shop_id, change.platform_id)
    order_id = written[0] if written is not None else session.scalar(
        sa.select(Order.id).where(Order.shop_id == shop_id, Order.platform_order_id == change.platform_id)
    )  # fmt: skip
    if order_id is None:
        return
    if change.discount_codes:
        redemptions.redeem(session, order_id, now=now)
    runtime = session.info.get("runtime")
    if runtime is not None:  # else a session not made by a runtime (no settings to build links with)
        thankyou.schedule(session, runtime.settings, order_id, now=now)
