"""Thank-you codes: a unique single-use discount per customer, made on the platform before the email goes.

When the shop turned codes on, the thank-you is queued ``waiting`` with the code in it, beside a
``thank_you_codes`` row holding the version without it. One RQ job per code (``jobs.messaging.make_code``,
job id ``thank-you-code-{id}``, retried with backoff; the outbox relay enqueues pending codes whose job
Redis lost) makes it through the platform's connection (``create_discount_code``: Shopify
``discountCodeBasicCreate`` limited to the customer, BigCommerce a single-use coupon). Made: the code is
on the customer's timeline and the email is ``queued``. Failed for good (a refusal, or out of retries):
the email goes without the code and the row keeps why, for ops.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence

import sqlalchemy as sa

from integration.core.db import utcnow
from integration.core.queues import MAIL, enqueue_missing
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.customers.profiles import add_timeline
from integration.messaging.models import OutboxMessage, ThankYouCode
from integration.platforms.interfaces import (
    ConsentTarget,
    NotFoundAtPlatform,
    PlatformRefused,
    ShopRefused,
    TransientPlatformError,
)
from integration.platforms.registry import connect
from integration.shops.access import shop_access

log = logging.getLogger(__name__)

MAKE_CODE = "jobs.messaging.make_code"
RETRY_INTERVALS = (30, 120, 600)
WAITING = "waiting"  # the outbox status of a thank-you whose code is being made
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


class MakeLater(Exception):
    """The platform could not make the code now: RQ retries with backoff."""


def new_code() -> str:
    return "THANKS-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def code_job_id(code_id: int) -> str:
    return f"thank-you-code-{code_id}"


def enqueue_codes(runtime: Runtime, code_ids: Sequence[int]) -> int:
    return enqueue_missing(
        runtime.queue(MAIL),
        MAKE_CODE,
        code_ids,
        job_id=code_job_id,
        description="make thank-you code {}",
        retry_intervals=RETRY_INTERVALS,
    )


def relay_codes(runtime: Runtime, limit: int = 200) -> int:
    with runtime.session() as session:
        ids = list(
            session.scalars(
                sa.select(ThankYouCode.id).where(ThankYouCode.state == "pending").order_by(ThankYouCode.id).limit(limit)
            )
        )
    return enqueue_codes(runtime, ids)


def _give_up(runtime: Runtime, code_id: int, error: str) -> str:
    """The email goes without the code; the row says why."""
    with runtime.session() as session:
        row = session.get_one(ThankYouCode, code_id)
        row.state, row.error, row.attempts = "failed", error, row.attempts + 1
        session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == row.outbox_id, OutboxMessage.status == WAITING)
            .values(status="queued", text_body=row.fallback_text, html_body=row.fallback_html)
        )
    log.warning("thank-you code %d not made; the email goes without it", code_id)
    return "failed"


def make(runtime: Runtime, code_id: int, *, retries_left: int | None = None) -> str:
    """Make one pending code on the platform; returns the row's state afterwards."""
    with runtime.session() as session:
        row = session.get(ThankYouCode, code_id)
        if row is None or row.state != "pending":
            return row.state if row is not None else "missing"
        customer = session.execute(
            sa.select(Customer.platform_customer_id, Customer.email).where(Customer.id == row.customer_id)
        ).one()
        target = ConsentTarget(customer.platform_customer_id, customer.email)
        code, percent, ends_at = row.code, row.percent, row.ends_at
        found = shop_access(session, runtime.cipher, row.shop_id, runtime=runtime)
    if found is None:
        return _give_up(runtime, code_id, "shop not active")
    platform, access = found
    connection = connect(runtime, platform, access)
    try:
        connection.create_discount_code(target, code, percent, ends_at)
    except TransientPlatformError as exc:
        if retries_left:
            with runtime.session() as session:
                session.execute(
                    sa.update(ThankYouCode)
                    .where(ThankYouCode.id == code_id)
                    .values(attempts=ThankYouCode.attempts + 1, error=str(exc))
                )
            raise MakeLater(str(exc)) from None
        return _give_up(runtime, code_id, f"out of retries: {exc}")
    except (PlatformRefused, ShopRefused, NotFoundAtPlatform, ValueError) as exc:
        return _give_up(runtime, code_id, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
    now = utcnow()
    with runtime.session() as session:
        row = session.get_one(ThankYouCode, code_id)
        row.state, row.made_at, row.error, row.attempts = "created", now, None, row.attempts + 1
        session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == row.outbox_id, OutboxMessage.status == WAITING)
            .values(status="queued")
        )
        summary = f"Thank-you code {row.code}: {row.percent} % off, once, until {row.ends_at:%d %B %Y}"
        add_timeline(session, row.customer_id, "code", row.code, now, summary)
    return "created"
