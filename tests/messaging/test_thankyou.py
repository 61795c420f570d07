"""The thank-you: queued by processing after a qualifying paid order, from the customer's rep, to contactable
customers only, in the merchant's sandboxed template; sent over real SMTP with both parts."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.messaging.models import EmailSettings, OutboxMessage
from integration.messaging.sending import send_outbox
from integration.messaging.templates import TemplateProblem, check
from integration.shops.models import Shop
from tests.helpers import RuntimeFactory, add_shop
from tests.messaging.smtp_server import SmtpServer
from tests.reps.conftest import World, utc

PAID = utc(2027, 1, 1)  # World orders are placed then
SOON = utc(2027, 1, 1, 0, 10)  # we learn of it ten minutes later


@pytest.fixture
def mail_runtime(make_runtime: RuntimeFactory, smtp_server: SmtpServer) -> Runtime:
    return make_runtime(smtp_url=smtp_server.url, public_url="https://app.example")


@pytest.fixture
def world(mail_runtime: Runtime) -> World:
    shop = add_shop(mail_runtime)
    with mail_runtime.session() as session:
        session.execute(
            sa.update(Shop)
            .where(Shop.id == shop.id)
            .values(name="Fern & Co", sender_email="hello@fern.example", postal_address="1 High Street, Oakland CA")
        )
    found = World(mail_runtime, shop.id)
    found.rep("dana.reyes@fern.example", zone="America/Los_Angeles")
    return found


def thank_yous(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.session() as session:
        rows = list(session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "thank_you")))
        session.expunge_all()
        return rows


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
