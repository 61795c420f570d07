"""The settings page in a real headless Chromium against the app under gunicorn: a typo, then a save; and
the same page inside the BigCommerce control panel's frame with third-party cookies blocked.

Uses Debian's /usr/bin/chromium through Playwright (never ``playwright install``); skipped without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.shops.models import Shop, StaffRole, StaffUser
from tests.helpers import STORE_HASH, LiveServer, add_shop
from tests.staff_fixtures import add_staff

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A context of Debian's headless Chromium, closed after. A slow machine waits longer: nothing here
    asserts on time."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context()
            context.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)
            yield context
        finally:
            browser.close()


def watch(page: Any, problems: list[str]) -> None:
    """What would show the page half-working goes to ``problems``: a script error, a refusal under the
    page's Content-Security-Policy."""
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(settings, workers=1, test_sign_in=True)
    yield live
    live.stop()


def test_the_admin_fixes_a_bad_address_and_saves(server: LiveServer, runtime: Runtime) -> None:
    from playwright.sync_api import expect

    shop = add_shop(runtime)
    admin = add_staff(runtime, shop.id, "1", role=StaffRole.ADMIN, name="Olive Owner", email="olive@example.com")
    problems: list[str] = []

    with chromium() as context:
        page = context.new_page()
        watch(page, problems)
        # And a stylesheet or icon that failed to load. (The page itself answers 422 to the bad address,
        # which Chromium also logs; that one is expected.)
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
        # The stylesheet loaded under the page's Content-Security-Policy, and nothing was refused. The
        # flash is in the DOM before the stylesheet need have applied (a busy CI machine showed "none"),
        # so this waits for the style rather than reading it once.
        expect(page.locator(".flash-success")).to_have_css("border-top-style", "solid")
        # On a phone the page keeps to the screen's width (the staff table scrolls inside its own box).
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        assert problems == []

    with runtime.session() as db:
        saved = db.get_one(Shop, shop.id)
        assert saved.sender_email == "orders@example.com"
        assert saved.time_zone == "Europe/Berlin"
        assert saved.postal_address == "Example GmbH\nHauptstraße 1\n10115 Berlin"


# -- inside the platform's frame, with third-party cookies blocked

CONTROL_PANEL = f"https://store-{STORE_HASH}.mybigcommerce.com"
COOKIE_PROBE = """() => {
    // Written from inside the frame, where this page is a third party: what does the browser keep?
    document.cookie = "probe_plain=1; SameSite=None; Secure; Path=/";
    document.cookie = "probe_partitioned=1; SameSite=None; Secure; Path=/; Partitioned";
    return document.cookie.split("; ").map((pair) => pair.split("=")[0]).sort();
}"""


@pytest.fixture
def framed_server(settings: Settings) -> Iterator[LiveServer]:
    """The app as deployed: it believes it is reached over https, so its cookies are the embedded kind.

    It listens on http://127.0.0.1, which Chromium counts as a secure context (Secure cookies work), and
    which is another site than the control panel that frames it.
    """
    # Two workers: Chromium opens a connection for the frame it does not use at once, and a single sync
    # worker would sit on it until gunicorn's 30 s timeout (behind a real proxy this never reaches it).
    live = LiveServer(settings, workers=2, public_url="https://app.example.com")
    yield live
    live.stop()


def test_the_settings_page_works_inside_the_control_panel_with_third_party_cookies_blocked(
    framed_server: LiveServer, runtime: Runtime
) -> None:
    from playwright.sync_api import expect

    from tests.platforms.bigcommerce.test_install import OWNER_ID, signed

    shop = add_shop(runtime, "bigcommerce", STORE_HASH, "bc-token")
    load_url = f"{framed_server.url}/bigcommerce/load?{urlencode({'signed_payload_jwt': signed()})}"
    problems: list[str] = []

    with chromium() as context:
        # Chromium asks before a public site's page reaches a loopback address (Local Network Access);
        # the control panel is "public" here and the app on loopback only because this is a test.
        context.grant_permissions(["local-network-access"])
        page = context.new_page()
        watch(page, problems)
        # The control panel (another site, https) frames the app's load callback, as BigCommerce does.
        page.route(
            f"{CONTROL_PANEL}/**",
            lambda route: route.fulfill(
                content_type="text/html",
                body=f'<!doctype html><title>Control panel</title><iframe name="app" src="{load_url}"></iframe>',
            ),
        )
        page.goto(f"{CONTROL_PANEL}/manage/app/1")
        frame = page.frame_locator("iframe[name=app]")
        expect(frame.get_by_role("heading", name="Settings", exact=True)).to_be_visible()  # signed in
        app_frame = page.frame(name="app")
        assert app_frame is not None and app_frame.url == f"{framed_server.url}/settings"

        # This browser blocks third-party cookies: only a partitioned one survives in the frame. (Without
        # that the test would prove nothing about the session cookie.)
        assert app_frame.evaluate(COOKIE_PROBE) == ["probe_partitioned"]
        session = [c for c in context.cookies(framed_server.url) if c["name"] == "session"]
        assert len(session) == 1, session
        assert session[0]["secure"] and session[0]["httpOnly"] and session[0]["sameSite"] == "None"
        assert session[0].get("partitionKey") == "https://mybigcommerce.com"  # CHIPS: keyed by the top site

        # A form posts, the redirect comes back to a signed-in page.
        frame.get_by_label("Time zone").fill("America/Chicago")
        frame.get_by_label("Sending name").fill("Bea at the store")
        frame.get_by_label("Sending address").fill("bea@example.com")
        frame.get_by_role("button", name="Save shop settings").click()
        expect(frame.locator(".flash-success")).to_have_text("Shop settings saved.")

        # Still signed in on the next page view inside the frame.
        app_frame.goto(f"{framed_server.url}/settings")
        expect(frame.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
        expect(frame.get_by_label("Sending address")).to_have_value("bea@example.com")
        assert problems == []

    with runtime.session() as db:
        saved = db.get_one(Shop, shop.id)
        assert (saved.time_zone, saved.sender_name, saved.sender_email) == (
            "America/Chicago",
            "Bea at the store",
            "bea@example.com",
        )
        admin = db.scalars(sa.select(StaffUser).where(StaffUser.shop_id == shop.id)).one()
        assert (admin.platform_user_id, admin.role) == (str(OWNER_ID), StaffRole.ADMIN)
