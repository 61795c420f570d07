"""The settings page in a real headless Chromium against the app under gunicorn: a typo, then a save.

Uses Debian's /usr/bin/chromium through Playwright (never ``playwright install``); skipped without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.shops.models import Shop, StaffRole
from tests.helpers import LiveServer, add_shop
from tests.staff_fixtures import add_staff

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(settings, workers=1, test_sign_in=True)
    yield live
    live.stop()


def test_the_admin_fixes_a_bad_address_and_saves(server: LiveServer, runtime: Runtime) -> None:
    from playwright.sync_api import expect, sync_playwright

    shop = add_shop(runtime)
    admin = add_staff(runtime, shop.id, "1", role=StaffRole.ADMIN, name="Olive Owner", email="olive@example.com")
    problems: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context()
            # A slow machine waits longer; nothing here asserts on time.
            context.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)
            page = context.new_page()
            # What would show the page half-working: a script error, a refusal under the page's
            # Content-Security-Policy, a stylesheet or icon that failed to load. (The page itself answers
            # 422 to the bad address, which Chromium also logs; that one is expected.)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda message: problems.append(message.text) if "Content Security Policy" in message.text else None,
            )
            page.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and r.request.resource_type != "document"
                    else None
                ),
            )

            # The browser's own cookie jar gets the session (page.request shares it with the page).
            assert page.request.post(f"{server.url}/_test/sign-in", form={"staff_id": str(admin)}).ok
            response = page.goto(f"{server.url}/settings")
            assert response is not None and response.status == 200
            expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
            expect(page.locator("#staff")).to_contain_text("Olive Owner (you)")

            page.get_by_label("Time zone").fill("Europe/Berlin")
            page.get_by_label("Postal address").fill("Example GmbH\nHauptstraße 1\n10115 Berlin")
            page.get_by_label("Sending name").fill("Olive at Example")
            page.get_by_label("Sending address").fill("olive@@example")
            page.get_by_role("button", name="Save shop settings").click()

            expect(page.locator(".field.has-errors")).to_contain_text("Enter an email address like orders@example.com.")
            expect(page.get_by_label("Sending name")).to_have_value("Olive at Example")  # what was typed stays
            expect(page.get_by_label("Sending address")).to_have_attribute("aria-invalid", "true")
            with runtime.session() as db:
                assert db.get_one(Shop, shop.id).sender_email is None

            page.get_by_label("Sending address").fill("orders@example.com")
            page.get_by_role("button", name="Save shop settings").click()

            expect(page.locator(".flash-success")).to_have_text("Shop settings saved.")
            expect(page.locator(".field.has-errors")).to_have_count(0)
            expect(page.get_by_label("Sending address")).to_have_value("orders@example.com")
            assert page.url == f"{server.url}/settings#shop"  # POST, redirect, GET
            # The stylesheet loaded under the page's Content-Security-Policy, and nothing was refused.
            assert page.evaluate("getComputedStyle(document.querySelector('.flash-success')).borderTopStyle") == "solid"
            assert problems == []
        finally:
            browser.close()

    with runtime.session() as db:
        saved = db.get_one(Shop, shop.id)
        assert saved.sender_email == "orders@example.com"
        assert saved.time_zone == "Europe/Berlin"
        assert saved.postal_address == "Example GmbH\nHauptstraße 1\n10115 Berlin"
