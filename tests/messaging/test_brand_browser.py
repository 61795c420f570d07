"""The shop's colour in a real headless Chromium: the admin picks it in the Email settings (a bad value is
refused with its message, a good one shows its swatch), and the customer's preference centre wears it; a
light colour gets dark text on the band and button, and links darkened until they read at 4.5:1.

Uses Debian's /usr/bin/chromium through Playwright; skipped without it. ``WORKSPACE_SHOTS=/some/dir`` saves
screenshots there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.messaging.brand import make_brand
from integration.messaging.links import PREFERENCES, UNSUBSCRIBE, customer_link
from integration.messaging.models import EmailSettings
from integration.shops.models import Shop, StaffRole
from tests.helpers import LiveServer, RuntimeFactory, add_shop
from tests.reps.conftest import World, utc
from tests.reps.test_workspace_browser import ARGS, CHROMIUM, DESKTOP, PHONE, look, watch
from tests.staff_fixtures import add_staff

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]
SHOTS = os.environ.get("WORKSPACE_SHOTS")


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(settings, workers=1, test_sign_in=True)
    yield live
    live.stop()


def _rgb(colour: str) -> str:
    return f"rgb({int(colour[1:3], 16)}, {int(colour[3:5], 16)}, {int(colour[5:7], 16)})"


def test_the_admin_picks_a_light_colour_and_the_preference_centre_stays_readable(
    server: LiveServer, make_runtime: RuntimeFactory
) -> None:
    from playwright.sync_api import expect, sync_playwright

    runtime: Runtime = make_runtime(public_url=server.url)
    shop = add_shop(runtime)
    with runtime.session() as session:
        session.execute(sa.update(Shop).where(Shop.id == shop.id).values(name="Fern & Co"))
    admin = add_staff(runtime, shop.id, "1", role=StaffRole.ADMIN, name="Olive Owner", email="olive@example.com")
    world = World(runtime, shop.id)
    world.rep("dana@fern.example", zone="America/Los_Angeles")
    world.order(1001, email="cal@example.com", zone="America/Los_Angeles", now=utc(2027, 1, 1, 0, 10))
    brand = make_brand("#ffdd00")
    assert brand.link != brand.accent  # too light for links on the page: darkened

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport=DESKTOP)
            context.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)
            page = context.new_page()
            watch(page, problems)
            assert page.request.post(f"{server.url}/_test/sign-in", form={"staff_id": str(admin)}).ok
            page.goto(f"{server.url}/settings")
            colour = page.get_by_label("Shop colour")
            colour.fill("yellow")
            page.get_by_role("button", name="Save email settings").click()
            expect(page.locator("#email .field.has-errors")).to_contain_text("A colour like #1f5fbf")
            expect(page.get_by_label("Shop colour")).to_have_attribute("aria-invalid", "true")
            page.get_by_label("Shop colour").fill("#FFDD00")
            page.get_by_role("button", name="Save email settings").click()
            expect(page.locator(".flash-success")).to_have_text("Email settings saved.")
            swatch = page.locator("figure.swatch")
            expect(swatch).to_contain_text("#ffdd00: text on it #111111")
            expect(swatch.locator("rect").nth(1)).to_have_attribute("fill", "#ffdd00")
            page.set_viewport_size(PHONE)
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
            if SHOTS:
                Path(SHOTS).mkdir(parents=True, exist_ok=True)
                swatch.scroll_into_view_if_needed()
                page.screenshot(path=str(Path(SHOTS) / "b1-settings-swatch-phone.png"))
                page.set_viewport_size(DESKTOP)
                swatch.scroll_into_view_if_needed()
                page.screenshot(path=str(Path(SHOTS) / "b1-settings-swatch-desktop.png"))
            page.set_viewport_size(DESKTOP)

            with runtime.session() as session:
                assert session.get_one(EmailSettings, shop.id).brand_colour == "#ffdd00"
                link = customer_link(
                    session, runtime.settings, PREFERENCES, shop.id, world.customer("cal@example.com").id
                )
            page.goto(link)
            expect(page.get_by_role("heading", name="Cal, what would you like from Fern & Co?")).to_be_visible()
            look(page, "b2-yellow-preferences")  # checks every text's contrast, and the phone's width
            header = page.locator("header.top")
            expect(header).to_have_css("background-color", _rgb("#ffdd00"))
            expect(header).to_have_css("color", _rgb("#111111"))
            expect(page.get_by_role("button", name="Save my choices")).to_have_css("color", _rgb("#111111"))
            page.get_by_role("button", name="Save my choices").click()
            expect(page.locator("#saved")).to_be_visible()

            # The unsubscribe page's link: the darkened colour, not the pale yellow.
            with runtime.session() as session:
                customer_id = world.customer("cal@example.com").id
                unsubscribe = customer_link(session, runtime.settings, UNSUBSCRIBE, shop.id, customer_id)
            page.goto(unsubscribe)
            expect(page.get_by_role("heading", name="Unsubscribe from Fern & Co emails?")).to_be_visible()
            look(page, "b3-yellow-unsubscribe")
            expect(page.get_by_role("link", name="choose what you receive")).to_have_css("color", _rgb(brand.link))
            assert problems == []
        finally:
            browser.close()
