"""A fresh preference link by email: an expired link (still signed by us) offers one button that emails a
new link to the address on file, through the outbox to a real SMTP server (aiosmtpd); a broken or revoked
link sends nothing; the button is rate-limited; the page never shows the address in full."""

from __future__ import annotations

import logging
import re
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from integration import runtime_of
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.messaging.links import PREFERENCES, UNSUBSCRIBE, make_token, revoke
from integration.messaging.models import EmailSettings, OutboxMessage
from integration.messaging.sending import send_outbox, suppress
from integration.shops.models import Shop
from tests.helpers import AppFactory, add_shop, free_port
from tests.messaging.helpers import expired_token
from tests.messaging.smtp_server import SmtpServer
from tests.messaging.test_pages import csrf
from tests.reps.conftest import World, utc


@pytest.fixture
def mail_app(make_app: AppFactory, smtp_server: SmtpServer) -> Flask:
    return make_app(smtp_url=smtp_server.url, mail_from="Fallback <hello@app.example>")


@pytest.fixture
def mail_client(mail_app: Flask) -> FlaskClient:
    return mail_app.test_client()


@pytest.fixture
def world(mail_app: Flask) -> World:
    runtime = runtime_of(mail_app)
    shop = add_shop(runtime)
    with runtime.session() as session:
        session.execute(
            sa.update(Shop).where(Shop.id == shop.id).values(name="Fern & Co", sender_email="hi@fern.example")
        )
        session.add(EmailSettings(shop_id=shop.id, brand_colour="#0b7a3e"))
    found = World(runtime, shop.id)
    found.rep("dana@fern.example")
    found.order(1001, email="ann@example.com", zone="Europe/London", now=utc(2027, 3, 1, 9))
    return found


def fresh_link_mails(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.session() as session:
        return list(session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "preferences_link")))


def expired(world: World, purpose: str = PREFERENCES) -> str:
    return expired_token(world.runtime.settings, purpose, world.shop_id, world.customer().id)


def session_csrf(client: FlaskClient, world: World) -> str:
    """This client's CSRF token, from the one page that has a form without a working link."""
    return csrf(client.get(f"/p/{expired(world)}").text)


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


@pytest.mark.parametrize("purpose", [PREFERENCES, UNSUBSCRIBE])
def test_an_expired_link_emails_a_fresh_one_that_opens_the_preference_centre(
    mail_client: FlaskClient, world: World, smtp_server: SmtpServer, purpose: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = expired(world, purpose)
    page = mail_client.get(f"/{'p' if purpose == PREFERENCES else 'u'}/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 410 and "This link has expired" in text and "Email me a fresh link" in text
    assert "a***@example.com" in text and "ann@example.com" not in text  # masked, never in full
    assert "Fern &amp; Co" in text and "--accent: #0b7a3e" in text

    sent = mail_client.post(f"/p/{token}/fresh-link", data={"csrf_token": csrf(text), "purpose": purpose})
    answer = sent.get_data(as_text=True)
    assert sent.status_code == 200 and "Check your email" in answer and "ann@example.com" not in answer
    [row] = fresh_link_mails(world.runtime)
    assert (row.category, row.recipient) == ("transactional", "ann@example.com")

    assert send_outbox(world.runtime, row.id, retries_left=0) == "sent"
    [message] = [m for m in smtp_server.messages if m["Subject"] == "Your preferences at Fern & Co"]
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Dana at Fern & Co", "hi@fern.example")
    assert message["Reply-To"] == "dana@fern.example" and message["To"] == "ann@example.com"
    assert message["List-Unsubscribe"] is None  # transactional: asked for, not marketing
    html = body(message, "html")
    assert "#0b7a3e" in html and 'class="button"' in html  # the shop's colour on the button
    link = re.search(r"(/p/\S+)", body(message, "plain"))
    assert link is not None and link.group(1).split("/")[-1] in html
    opened = mail_client.get(link.group(1))
    assert opened.status_code == 200 and "Ann, what would you like from Fern &amp; Co?" in opened.get_data(as_text=True)
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]  # not the test server's
    assert ours and not [line for line in ours if "ann@example.com" in line]  # no address in our log lines


def test_a_broken_link_says_so_and_sends_nothing(mail_client: FlaskClient, world: World) -> None:
    good = make_token(world.runtime.settings, PREFERENCES, world.shop_id, world.customer().id, 0)
    for token in ("not-a-token", good[:-4] + "AAAA", expired(world)[:-2] + "xx"):
        page = mail_client.get(f"/p/{token}")
        text = page.get_data(as_text=True)
        assert page.status_code == 400 and "This link is not valid" in text
        assert "fresh link" not in text and "contact the shop" in text
        # Posting the button anyway: the same answer, and nothing sent.
        answer = mail_client.post(f"/p/{token}/fresh-link", data={"csrf_token": session_csrf(mail_client, world)})
        assert answer.status_code == 200 and "Check your email" in answer.get_data(as_text=True)
    assert fresh_link_mails(world.runtime) == []


@pytest.mark.parametrize("also_expired", [False, True])
def test_a_revoked_link_sends_nothing_however_it_is_asked(
    mail_client: FlaskClient, world: World, also_expired: bool
) -> None:
    customer_id = world.customer().id
    token = (
        expired(world)
        if also_expired
        else make_token(world.runtime.settings, PREFERENCES, world.shop_id, customer_id, 0)
    )
    form = session_csrf(mail_client, world)  # while it still has a form
    with world.runtime.session() as session:
        revoke(session, world.shop_id, customer_id)
    page = mail_client.get(f"/p/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 410 and "This link has been replaced" in text and "Email me a fresh link" not in text
    answer = mail_client.post(f"/p/{token}/fresh-link", data={"csrf_token": form})
    assert answer.status_code == 200 and "Check your email" in answer.get_data(as_text=True)
    assert fresh_link_mails(world.runtime) == []


def test_suppressed_or_deleted_customers_get_nothing(mail_client: FlaskClient, world: World) -> None:
    token = expired(world)
    form = csrf(mail_client.get(f"/p/{token}").text)
    with world.runtime.session() as session:
        suppress(session, world.shop_id, "ann@example.com", "550 no such user", None)
    assert mail_client.post(f"/p/{token}/fresh-link", data={"csrf_token": form}).status_code == 200
    assert fresh_link_mails(world.runtime) == []

    with world.runtime.session() as session:
        session.execute(sa.update(Customer).values(deleted_at=utc(2027, 3, 5)))
    page = mail_client.get(f"/p/{token}")
    assert page.status_code == 400 and "Email me a fresh link" not in page.text
    assert mail_client.post(f"/p/{token}/fresh-link", data={"csrf_token": form}).status_code == 200
    assert fresh_link_mails(world.runtime) == []


def test_no_csrf_token_no_email(mail_client: FlaskClient, world: World) -> None:
    refused = mail_client.post(f"/p/{expired(world)}/fresh-link")
    assert refused.status_code == 400 and "This form has expired" in refused.text
    assert fresh_link_mails(world.runtime) == []


def test_the_button_is_limited_per_link_and_per_client(mail_client: FlaskClient, world: World) -> None:
    token = expired(world)
    form = {"csrf_token": csrf(mail_client.get(f"/p/{token}").text)}
    answers = [mail_client.post(f"/p/{token}/fresh-link", data=form).status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    limited = mail_client.post(f"/p/{token}/fresh-link", data=form)
    assert limited.status_code == 429 and "Too many fresh links were asked for" in limited.text
    assert "<!doctype html>" in limited.text  # our page, not the limiter's words
    assert len(fresh_link_mails(world.runtime)) == 1  # and one email an hour whatever the count

    # Another client may still ask for the same customer's link? No: the limit is the link's too.
    other = mail_client.post(f"/p/{token}/fresh-link", data=form, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 429
    # One client asking for many links: limited by its address.
    statuses = [
        mail_client.post(f"/p/bad-{i}/fresh-link", data=form, environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code
        for i in range(31)
    ]
    assert statuses == [200] * 30 + [429]


def test_without_redis_the_button_answers_a_friendly_503_not_a_500(make_app: AppFactory) -> None:
    """Regression: the limiter's Redis being down made the fresh-link POST a 500."""
    app = make_app(testing=False, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    response = app.test_client().post("/p/whatever/fresh-link", data={})
    assert response.status_code == 503 and "Please try again in a few minutes" in response.text
