"""The thank-you: queued by processing after a qualifying paid order, from the customer's rep, to contactable
customers only, in the merchant's sandboxed template; sent over real SMTP with both parts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from integration.customers.models import Customer, Order
from integration.events.changes import Change, Skip
from integration.messaging.models import EmailSettings, OutboxMessage
from integration.messaging.sending import send_outbox
from integration.messaging.templates import TemplateProblem, check
from integration.platforms.interfaces import ShopAccess, StoredEvent
from integration.platforms.shopify.adapter import ShopifyAdapter
from tests.messaging.conftest import thank_yous
from tests.messaging.smtp_server import SmtpServer
from tests.reps.conftest import World, utc

PAID = utc(2027, 1, 1)  # World orders are placed then
SOON = utc(2027, 1, 1, 0, 10)  # we learn of it ten minutes later


def test_a_paid_order_queues_a_thank_you_from_the_rep_an_hour_after_payment(world: World) -> None:
    world.order(1001, email="cal@example.com", zone="America/Los_Angeles", now=SOON)
    world.order(1001, email="cal@example.com", zone="America/Los_Angeles", now=SOON)  # a repeat: one email
    [mail] = thank_yous(world.runtime)
    assert mail.recipient == "cal@example.com" and mail.category == "marketing"
    assert (mail.sender_name, mail.sender_address, mail.reply_to) == (
        "Dana.Reyes at Fern & Co",
        "hello@fern.example",
        "dana.reyes@fern.example",
    )
    assert mail.send_after == PAID + dt.timedelta(hours=1)
    assert mail.subject == "Thank you for your order, Cal"
    assert "#1001: Teapot" in mail.text_body and "1 High Street, Oakland CA" in mail.text_body
    assert "https://app.example/p/" in mail.text_body and mail.unsubscribe_url is not None
    assert mail.unsubscribe_url.startswith("https://app.example/u/")
    assert mail.html_body is not None and 'style="' in mail.html_body  # styles inlined


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"now": PAID + dt.timedelta(days=8)}, "paid more than 7 days before we learned of it"),
        ({"now": SOON, "test": True}, "a test order"),
        ({"now": SOON, "zone": "Europe/London"}, "a UK address without email consent"),
    ],
)
def test_no_thank_you(world: World, kwargs: dict[str, object], why: str) -> None:
    options = {"zone": "America/Los_Angeles", **kwargs}
    world.order(1001, email="cal@example.com", **options)  # type: ignore[arg-type]
    assert thank_yous(world.runtime) == [], why


def test_none_when_the_shop_turned_it_off_or_the_customer_unsubscribed(world: World) -> None:
    with world.runtime.session() as session:
        session.add(EmailSettings(shop_id=world.shop_id, thankyou_enabled=False))
    world.order(1001, email="cal@example.com", zone="America/Los_Angeles", now=SOON)
    assert thank_yous(world.runtime) == []
    with world.runtime.session() as session:
        session.execute(sa.update(EmailSettings).values(thankyou_enabled=True))
        session.execute(sa.update(Customer).values(email_consent="unsubscribed"))
    world.order(1002, email="cal@example.com", zone="America/Los_Angeles", now=SOON)
    assert thank_yous(world.runtime) == []


def test_a_uk_customer_who_said_yes_gets_it_and_the_merchants_template_is_used(world: World) -> None:
    with world.runtime.session() as session:
        session.add(
            EmailSettings(
                shop_id=world.shop_id,
                thankyou_delay_minutes=90,
                thankyou_subject="{{ customer.first_name }}, thanks from {{ rep.first_name }}",
                thankyou_body="Dear {{ customer.first_name }},\n\nYou bought {{ order.products | join(' and ') }}.",
            )
        )
    world.order(1000, email="ann@example.com", zone="Europe/London", now=utc(2026, 12, 20))  # customer exists
    with world.runtime.session() as session:
        session.execute(sa.update(Customer).values(email_consent="subscribed"))
    world.order(1001, email="ann@example.com", zone="Europe/London", now=SOON)
    [mail] = thank_yous(world.runtime)
    assert mail.subject == "Ann, thanks from Dana.Reyes"
    assert mail.text_body.startswith("Dear Ann,\n\nYou bought Teapot.\n")
    assert mail.send_after == PAID + dt.timedelta(minutes=90)


def test_a_name_with_markup_is_escaped_in_html_and_intact_in_text_over_real_smtp(
    world: World, smtp_server: SmtpServer
) -> None:
    world.order(1000, email="zoe@example.com", zone="America/Los_Angeles", now=PAID + dt.timedelta(days=8))
    with world.runtime.session() as session:
        session.execute(sa.update(Customer).values(first_name="<b>Zoë</b>", source_updated_at=utc(2030, 1, 1)))
    world.order(1001, email="zoe@example.com", zone="America/Los_Angeles", now=SOON)
    [mail] = thank_yous(world.runtime)
    with world.runtime.session() as session:
        session.execute(sa.update(OutboxMessage).values(send_after=None))
    assert send_outbox(world.runtime, mail.id, retries_left=3) == "sent"

    [message] = smtp_server.messages
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "Hi <b>Zoë</b>," in text.get_content()
    assert "&lt;b&gt;Zoë&lt;/b&gt;" in html.get_content() and "<b>Zoë</b>" not in html.get_content()
    assert message["Subject"] == "Thank you for your order, <b>Zoë</b>"
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Dana.Reyes at Fern & Co", "hello@fern.example")
    assert message["Reply-To"] == "dana.reyes@fern.example"
    assert message["List-Unsubscribe"] == f"<{mail.unsubscribe_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer.__class__.__init__.__globals__ }}",
        "{{ customer.update({'first_name': 'x'}) }}",
        "{{ order.products.append('x') }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ self.__init__.__globals__ }}",
    ],
)
def test_sandbox_escapes_are_refused(template: str) -> None:
    sample = {"customer": {"first_name": "Ann"}, "order": {"items": ["Teapot"]}}
    with pytest.raises(TemplateProblem):
        check("Subject", template, sample)


# --- timed from payment, from the platform's payloads ---------------------------------------------------

SHOPIFY_ORDER = Path(__file__).resolve().parents[1] / "fixtures" / "shopify" / "shopify_orders_create.json"
PLACED = utc(2027, 2, 1, 9)


def stamp(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def shopify(world: World, topic: str, financial_status: str, updated: dt.datetime, **fields: Any) -> list[Change]:
    """Shopify's sample order as a live one placed at PLACED (the customer in the US: no consent needed),
    through the adapter as processing would translate the webhook."""
    body = json.loads(SHOPIFY_ORDER.read_bytes())
    body.update(
        financial_status=financial_status,
        cancelled_at=None,
        test=False,
        created_at=stamp(PLACED),
        processed_at=stamp(PLACED),
        updated_at=stamp(updated),
        **fields,
    )
    body["customer"]["default_address"]["country_code"] = "US"
    event = StoredEvent(1, "shopify", "fern.myshopify.com", topic, json.dumps(body).encode(), updated, "2026-04")
    result = ShopifyAdapter().translate(event, ShopAccess(world.shop_id, "fern.myshopify.com", None))
    assert not isinstance(result, Skip)
    return list(result)


def test_a_pending_shopify_order_gets_its_thank_you_from_orders_paid_timed_from_payment(world: World) -> None:
    world.apply(*shopify(world, "orders/create", "pending", PLACED), now=PLACED + dt.timedelta(minutes=1))
    assert thank_yous(world.runtime) == []  # placed, not paid (a bank transfer)

    paid = PLACED + dt.timedelta(days=2, hours=3)
    # orders/updated says it is paid, not since when: nothing yet.
    world.apply(*shopify(world, "orders/updated", "paid", paid), now=paid + dt.timedelta(minutes=1))
    assert thank_yous(world.runtime) == []
    world.apply(*shopify(world, "orders/paid", "paid", paid), now=paid + dt.timedelta(minutes=2))
    world.apply(*shopify(world, "orders/paid", "paid", paid), now=paid + dt.timedelta(minutes=3))  # redelivered
    [mail] = thank_yous(world.runtime)
    assert mail.recipient == "john@example.com"
    assert mail.send_after == paid + dt.timedelta(hours=1)  # not PLACED + 1 hour
    with world.runtime.session() as session:
        assert session.scalars(sa.select(Order.paid_at)).one() == paid


def test_orders_paid_arriving_after_a_newer_orders_fulfilled_still_dates_the_payment(world: World) -> None:
    paid = PLACED + dt.timedelta(hours=5)
    shipped = paid + dt.timedelta(minutes=20)
    fulfilled = shopify(world, "orders/fulfilled", "paid", shipped, fulfillment_status="fulfilled")
    world.apply(*fulfilled, now=shipped)
    assert thank_yous(world.runtime) == []  # paid, since when it does not say
    world.apply(*shopify(world, "orders/paid", "paid", paid), now=shipped + dt.timedelta(minutes=1))  # late
    [mail] = thank_yous(world.runtime)
    assert mail.send_after == paid + dt.timedelta(hours=1)
    with world.runtime.session() as session:
        order = session.scalars(sa.select(Order)).one()
        assert (order.status, order.paid_at) == ("fulfilled", paid)  # the newer version's status stays


@pytest.mark.parametrize(("days", "queued"), [(8, False), (6, True)])
def test_a_backfilled_order_paid_more_than_7_days_ago_gets_none(world: World, days: int, queued: bool) -> None:
    """Read back over the API (transactions say when it was paid) long after it was placed and paid."""
    learned = PLACED + dt.timedelta(days=30)
    payment = {"kind": "sale", "status": "success", "processed_at": stamp(learned - dt.timedelta(days=days))}
    changes = shopify(world, "orders/updated", "paid", learned - dt.timedelta(hours=1), transactions=[payment])
    world.apply(*changes, now=learned)
    assert len(thank_yous(world.runtime)) == int(queued)
