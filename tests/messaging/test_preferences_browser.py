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
from integration.messaging.models import ConsentEntry, OutboxMessage
from integration.shops.models import Shop
from tests.helpers import LiveServer, RuntimeFactory, add_shop
from tests.reps.conftest import World, utc
from tests.reps.test_workspace_browser import ARGS, CHROMIUM, DESKTOP, look, watch

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
            expect(page.get_by_role("heading", name="This link does not work any more")).to_be_visible()
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
