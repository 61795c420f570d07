"""The customer's "how often" is respected when the email is queued and again when it is sent: "only
important" gets no marketing email, "monthly" at most one in 30 days; "everything" is unchanged. Sent over
the real SMTP server."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from integration.core.db import utcnow
from integration.customers.models import Customer
from integration.messaging.ledger import Change, record
from integration.messaging.models import OutboxMessage
from integration.messaging.sending import send_outbox
from tests.messaging.conftest import thank_yous
from tests.messaging.smtp_server import SmtpServer
from tests.reps.conftest import World

CUSTOMER = "cal@example.com"
ON_THE_PAGE = Change("customer", "page", wording="preferences-2026-12")


def order(world: World, number: int) -> None:
    """Order #number, paid two hours ago and learned of now: its thank-you is due already."""
    now = utcnow()
    world.order(number, email=CUSTOMER, zone="America/Los_Angeles", paid_at=now - dt.timedelta(hours=2), now=now)


def choose(world: World, frequency: str) -> None:
    with world.runtime.session() as session:
        customer = session.scalars(sa.select(Customer).where(Customer.email == CUSTOMER)).one()
        assert record(session, world.shop_id, customer.id, "frequency", frequency, ON_THE_PAGE) is not None


def test_only_important_blocks_a_queued_thank_you_when_it_is_sent(world: World, smtp_server: SmtpServer) -> None:
    order(world, 1001)
    [queued] = thank_yous(world.runtime)
    choose(world, "important")  # between queueing and sending

    assert send_outbox(world.runtime, queued.id, retries_left=3) == "skipped"
    [row] = thank_yous(world.runtime)
    assert (row.status, row.error) == ("skipped", "customer chose only important email (no marketing)")
    assert smtp_server.messages == []

    order(world, 1002)  # and none is queued from now on
    assert len(thank_yous(world.runtime)) == 1


def test_monthly_allows_one_then_blocks_the_second_within_30_days(world: World, smtp_server: SmtpServer) -> None:
    order(world, 1000)  # the customer exists; this one goes out before they choose
    choose(world, "monthly")
    order(world, 1001)
    first, second = thank_yous(world.runtime)  # queued: nothing was sent to them yet
    assert send_outbox(world.runtime, first.id, retries_left=3) == "sent"

    assert send_outbox(world.runtime, second.id, retries_left=3) == "skipped"
    _, row = thank_yous(world.runtime)
    assert row.error == "customer chose monthly: a marketing email went to them in the last 30 days"
    assert len(smtp_server.messages) == 1

    order(world, 1002)  # checked when queued too
    assert len(thank_yous(world.runtime)) == 2

    with world.runtime.session() as session:  # a month on, the next one may go
        session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == first.id)
            .values(last_attempt_at=utcnow() - dt.timedelta(days=31), sent_at=utcnow() - dt.timedelta(days=31))
        )
    order(world, 1003)
    *_, third = thank_yous(world.runtime)
    assert send_outbox(world.runtime, third.id, retries_left=3) == "sent"
    assert len(smtp_server.messages) == 2


def test_everything_and_interests_do_not_hold_back_a_second_thank_you(world: World, smtp_server: SmtpServer) -> None:
    order(world, 1001)
    with world.runtime.session() as session:
        customer = session.scalars(sa.select(Customer).where(Customer.email == CUSTOMER)).one()
        record(session, world.shop_id, customer.id, "interests", '["Candles"]', ON_THE_PAGE)  # not Teapots
    order(world, 1002)
    first, second = thank_yous(world.runtime)
    assert send_outbox(world.runtime, first.id, retries_left=3) == "sent"
    assert send_outbox(world.runtime, second.id, retries_left=3) == "sent"
    assert len(smtp_server.messages) == 2
