"""The settings page's check-in section in headless Chromium under gunicorn: a window typed wrong, the
message beside it, fixed and saved; usable at a phone's width. (Uses Debian's /usr/bin/chromium.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from integration.core.runtime import Runtime
from integration.reps.models import CheckInSettings
from integration.shops.models import StaffRole
from tests.helpers import LiveServer, add_shop
from tests.staff_fixtures import add_staff
from tests.web.test_settings_browser import CHROMIUM, chromium, server, watch

__all__ = ["server"]  # the fixture, used by name

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


WIDER_THAN_THE_SCREEN = """() => Array.from(document.querySelectorAll("#checkins *"))
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map((e) => e.tagName + (e.id ? "#" + e.id : "") + " " + Math.round(e.getBoundingClientRect().right))"""


def test_the_admin_edits_the_check_in_calls_on_a_phone(server: LiveServer, runtime: Runtime, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    shop = add_shop(runtime)
    admin = add_staff(runtime, shop.id, "1", role=StaffRole.ADMIN, name="Olive Owner", email="olive@example.com")
    problems: list[str] = []
    with chromium() as context:
        page = context.new_page()
        page.set_viewport_size({"width": 390, "height": 844})
        watch(page, problems)
        assert page.request.post(f"{server.url}/_test/sign-in", form={"staff_id": str(admin)}).ok
        assert page.goto(f"{server.url}/settings#checkins") is not None
        section = page.locator("#checkins")
        expect(section.get_by_label("Call script")).to_have_value(
            "Is it living up to your expectations?\nAny questions?\nWhat would you improve?\nWould you recommend us?"
        )
        section.get_by_label("Call script").fill("How is the teapot?\nWould you recommend us?")
        section.get_by_label("Calling window").fill("Mon-Fri 10:00-19:60")
        section.get_by_label("Days after delivery").fill("3")
        section.get_by_role("button", name="Save check-in settings").click()

        window = page.locator("#checkins").get_by_label("Calling window")
        expect(window).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#checkins .field.has-errors")).to_contain_text("19:60")
        expect(window).to_have_value("Mon-Fri 10:00-19:60")  # what was typed stays
        expect(page.locator("#checkins").get_by_label("Days after delivery")).to_have_value("3")
        window.fill("Mon-Fri 10:00-19:00; Sat 10:00-13:00")
        page.locator("#checkins").get_by_role("button", name="Save check-in settings").click()

        expect(page.locator(".flash-success")).to_have_text("Check-in settings saved.")
        assert page.url == f"{server.url}/settings#checkins"  # POST, redirect, GET
        page.wait_for_load_state("load")
        # Nothing of the section wider than the phone: no sideways scrolling to reach a field.
        too_wide = page.evaluate(WIDER_THAN_THE_SCREEN)
        assert too_wide == []
        if os.environ.get("SCREENSHOTS"):
            page.locator("#checkins").screenshot(path=os.environ["SCREENSHOTS"])
        assert problems == []
    with runtime.session() as db:
        saved = db.get_one(CheckInSettings, shop.id)
        assert (saved.call_script, saved.calling_window, saved.delay_days) == (
            "How is the teapot?\nWould you recommend us?",
            "Mon-Fri 10:00-19:00; Sat 10:00-13:00",
            3,
        )
