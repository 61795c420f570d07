"""Pushing our consent changes to the platform, so the merchant's other tools respect them.

The ledger queues a ``consent_pushes`` row when someone unsubscribes here (page, one-click, a rep, the
merchant). One RQ job per row (``jobs.messaging.push_consent``, job id ``consent-push-{id}``) writes it
through the platform's connection (``set_email_marketing``: Shopify ``customerEmailMarketingConsentUpdate``,
BigCommerce's subscriber consents); the outbox relay enqueues rows whose job Redis does not hold. A platform
that is down is retried with backoff; a refusal is kept on the row (``error``) for ops. When the platform
then tells us back what we wrote (a consent webhook), the ledger takes it as the echo of this push.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa

from integration.core.db import utcnow
from integration.core.queues import MAIL, enqueue_missing
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.messaging.contactable import OPTED_OUT
from integration.messaging.models import ConsentPush
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

PUSH_CONSENT = "jobs.messaging.push_consent"
RETRY_INTERVALS = (60, 300, 1800, 3600, 3 * 3600)


class PushLater(Exception):
    """The platform could not take it now: RQ retries with backoff."""


def push_job_id(push_id: int) -> str:
    return f"consent-push-{push_id}"


def enqueue_pushes(runtime: Runtime, push_ids: Sequence[int]) -> int:
    return enqueue_missing(
        runtime.queue(MAIL),
        PUSH_CONSENT,
        push_ids,
        job_id=push_job_id,
        description="push consent change {}",
        retry_intervals=RETRY_INTERVALS,
    )


def relay_pushes(runtime: Runtime, limit: int = 200) -> int:
    """Enqueue queued pushes whose job Redis does not hold; returns how many."""
    with runtime.session() as session:
        ids = list(
            session.scalars(
                sa.select(ConsentPush.id).where(ConsentPush.state == "queued").order_by(ConsentPush.id).limit(limit)
            )
        )
    return enqueue_pushes(runtime, ids)


def _set(runtime: Runtime, push_id: int, **values: object) -> None:
    with runtime.session() as session:
        session.execute(sa.update(ConsentPush).where(ConsentPush.id == push_id).values(**values))


def push(runtime: Runtime, push_id: int, *, retries_left: int | None = None) -> str:
    """Write one queued consent change to the platform; returns the row's state afterwards."""
    with runtime.session() as session:
        row = session.get(ConsentPush, push_id)
        if row is None or row.state != "queued":
            return row.state if row is not None else "missing"
        customer = session.execute(
            sa.select(Customer.platform_customer_id, Customer.email).where(Customer.id == row.customer_id)
        ).one()
        target = ConsentTarget(customer.platform_customer_id, customer.email)
        subscribed = row.value not in OPTED_OUT
        at = row.created_at
        found = shop_access(session, runtime.cipher, row.shop_id, runtime=runtime)
    if found is None:
        _set(runtime, push_id, state="failed", error="shop not active")
        return "failed"
    platform, access = found
    connection = connect(runtime, platform, access)
    try:
        written = connection.set_email_marketing(target, subscribed, at)
    except TransientPlatformError as exc:
        if retries_left:
            _set(runtime, push_id, attempts=ConsentPush.attempts + 1, error=str(exc))
            raise PushLater(str(exc)) from None
        _set(runtime, push_id, state="failed", attempts=ConsentPush.attempts + 1, error=f"out of retries: {exc}")
        return "failed"
    except (PlatformRefused, ShopRefused, NotFoundAtPlatform, ValueError) as exc:
        _set(runtime, push_id, state="failed", attempts=ConsentPush.attempts + 1, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    finally:
        connection.close()
    note = None if written else "nobody on the platform to write it on"
    _set(runtime, push_id, state="done", attempts=ConsentPush.attempts + 1, pushed_at=utcnow(), error=note)
    log.info("consent push %d written to the platform", push_id)
    return "done"
