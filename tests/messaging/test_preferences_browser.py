"""The preference centre in a real headless Chromium against the app under gunicorn: from the link in a
thank-you email to a saved preference and its ledger row, then the one-click unsubscribe page; every page
checked for contrast, the keyboard's skip link and a phone's width (``look``).

Uses Debian's /usr/bin/chromium through Playwright (never ``playwright install``); skipped without it.
With ``WORKSPACE_SHOTS=/some/dir`` each page is saved there as a desktop and a phone screenshot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.messaging.links import PREFERENCES, revoke
from integration.messaging.models import ConsentEntry, EmailSettings, OutboxMessage
from integration.messaging.sending import send_outbox
from integration.shops.models import Shop
from tests.helpers import LiveServer, RuntimeFactory, add_shop
from tests.messaging.helpers import expired_token
from tests.messaging.smtp_server import SmtpServer
from tests.reps.conftest import World, utc
from tests.reps.test_workspace_browser import ARGS, CHROMIUM, DESKTOP, PHONE, look, watch

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(settings, workers=1)
    yield live
    live.stop()


@pytest.fixture
def live_runtime(make_runtime: RuntimeFactory, server: LiveServer) -> Runtime:
    """The test's runtime, making links to the live server (as PUBLIC_URL would in production)."""
    return make_runtime(public_url=server.url)


def test_from_the_thank_you_link_to_a_saved_preference_and_its_ledger_row(
    server: LiveServer, live_runtime: Runtime
) -> None:
    from playwright.sync_api import expect, sync_playwright

    shop = add_shop(live_runtime)
    with live_runtime.session() as session:
        session.execute(
            sa.update(Shop).where(Shop.id == shop.id).values(name="Fern & Co", sender_email="hi@fern.example")
        )
    world = World(live_runtime, shop.id)
    world.rep("dana@fern.example", zone="America/Los_Angeles")
    world.order(1001, email="cal@example.com", zone="America/Los_Angeles", now=utc(2027, 1, 1, 0, 10))
    with live_runtime.session() as session:
        mail = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "thank_you")).one()
    preference_link = re.search(r"Choose what you receive: (\S+)", mail.text_body)
    assert preference_link is not None and preference_link.group(1).startswith(f"{server.url}/p/")

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport=DESKTOP)
            context.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)
            page = context.new_page()
            watch(page, problems)

            page.goto(preference_link.group(1))
            expect(page.get_by_role("heading", name="Cal, what would you like from Fern & Co?")).to_be_visible()
            expect(page.locator(".avatar")).to_have_text("D")
            expect(page.get_by_label("Emails", exact=True)).to_be_checked()
            look(page, "p1-preferences")
            calls = page.get_by_label("Calls from Dana")
            expect(calls).to_be_checked()
            calls.focus()
            page.keyboard.press("Space")  # the keyboard is enough
            page.get_by_label("At most once a month").check()
            page.get_by_label("Pause for 30 days").check()
            page.get_by_role("button", name="Save my choices").click()

            saved = page.locator("#saved")
            expect(saved).to_contain_text("Calls from Dana: no")
            expect(saved).to_contain_text("How often: At most once a month")
            expect(saved).to_contain_text("Paused for 30 days")
            expect(page.get_by_label("Calls from Dana")).not_to_be_checked()
            look(page, "p2-saved")

            # The one-click link, opened by a person: it asks first, then unsubscribes.
            assert mail.unsubscribe_url is not None
            page.goto(mail.unsubscribe_url)
            expect(page.get_by_role("heading", name="Unsubscribe from Fern & Co emails?")).to_be_visible()
            look(page, "p3-unsubscribe")
            page.get_by_role("button", name="Unsubscribe").click()
            expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
            look(page, "p4-unsubscribed")

            page.goto(f"{server.url}/p/not-a-real-link")
            expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
            look(page, "p5-bad-link")
            assert problems == []
        finally:
            browser.close()

    with live_runtime.session() as session:
        rows = session.execute(
            sa.select(ConsentEntry.topic, ConsentEntry.value, ConsentEntry.actor, ConsentEntry.method).order_by(
                ConsentEntry.id
            )
        ).all()
        wording = set(session.scalars(sa.select(ConsentEntry.wording_version)))
    assert [tuple(r)[:2] for r in rows[:2]] == [("calls", "unsubscribed"), ("frequency", "monthly")]
    assert rows[2][0] == "pause" and rows[2][2:] == ("customer", "page")
    assert tuple(rows[3]) == ("email", "unsubscribed", "customer", "one_click")
    assert wording == {"preferences-2026-12"}


@pytest.fixture
def mail_server(settings: Settings, smtp_server: SmtpServer) -> Iterator[LiveServer]:
    live = LiveServer(settings.replace(smtp_url=smtp_server.url, mail_from="Fern <hello@fern.example>"), workers=1)
    yield live
    live.stop()


def test_an_expired_link_brings_a_fresh_one_by_email_to_the_preference_centre_in_the_shops_colour(
    mail_server: LiveServer, make_runtime: RuntimeFactory, smtp_server: SmtpServer
) -> None:
    from playwright.sync_api import expect, sync_playwright

    runtime = make_runtime(public_url=mail_server.url, smtp_url=smtp_server.url)
    shop = add_shop(runtime)
    with runtime.session() as session:
        session.execute(
            sa.update(Shop).where(Shop.id == shop.id).values(name="Fern & Co", sender_email="hi@fern.example")
        )
        session.add(EmailSettings(shop_id=shop.id, brand_colour="#0b7a3e"))
    world = World(runtime, shop.id)
    world.rep("dana@fern.example", zone="America/Los_Angeles")
    world.order(1001, email="cal@example.com", zone="America/Los_Angeles", now=utc(2027, 1, 1, 0, 10))
    customer_id = world.customer("cal@example.com").id
    old_link = f"{mail_server.url}/p/{expired_token(runtime.settings, PREFERENCES, shop.id, customer_id)}"
    green = "rgb(11, 122, 62)"

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport=DESKTOP)
            context.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)
            page = context.new_page()
            watch(page, problems)

            page.goto(old_link)
            expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
            expect(page.locator("form")).to_contain_text("c***@example.com")
            assert "cal@example.com" not in page.content()
            expect(page.locator("header.top")).to_have_css("background-color", green)
            look(page, "p6-expired")
            page.get_by_role("button", name="Email me a fresh link").click()
            expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
            look(page, "p7-fresh-link-sent")

            # The email, through the outbox to the SMTP server, as the worker would send it.
            with runtime.session() as session:
                [outbox_id] = session.scalars(
                    sa.select(OutboxMessage.id).where(OutboxMessage.template == "preferences_link")
                ).all()
            assert send_outbox(runtime, outbox_id, retries_left=0) == "sent"
            [message] = [m for m in smtp_server.messages if m["Subject"] == "Your preferences at Fern & Co"]
            plain = message.get_body(preferencelist=("plain",))
            assert plain is not None and message["To"] == "cal@example.com"
            new_link = re.search(r"(https?://\S+/p/\S+)", plain.get_content())
            assert new_link is not None and new_link.group(1).startswith(mail_server.url)

            page.goto(new_link.group(1))
            expect(page.get_by_role("heading", name="Cal, what would you like from Fern & Co?")).to_be_visible()
            look(page, "p8-fresh-preferences")
            expect(page.locator("header.top")).to_have_css("background-color", green)
            expect(page.locator("header.top")).to_have_css("color", "rgb(255, 255, 255)")
            save = page.get_by_role("button", name="Save my choices")
            expect(save).to_have_css("background-color", green)
            expect(page.locator(".avatar")).to_have_css("background-color", green)
            save.focus()
            expect(save).to_have_css("outline-color", green)  # the focus ring in the shop's colour
            page.set_viewport_size(PHONE)
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
            page.set_viewport_size(DESKTOP)
            page.get_by_label("At most once a month").check()
            save.click()
            expect(page.locator("#saved")).to_contain_text("How often: At most once a month")

            # Revoked: said politely, and no button.
            with runtime.session() as session:
                revoke(session, shop.id, customer_id)
            page.goto(new_link.group(1))
            expect(page.get_by_role("heading", name="This link has been replaced")).to_be_visible()
            expect(page.get_by_role("button", name="Email me a fresh link")).to_have_count(0)
            look(page, "p9-revoked")
            assert problems == []
        finally:
            browser.close()
