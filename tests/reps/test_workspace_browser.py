"""The workspace in a real headless Chromium against the app under gunicorn: a rep signs in by the link
from the outbox, opens Today, logs a call, and finds it on the customer's timeline; the merchant then
sees it in the voice of the customer. Every page is also opened at a phone's width, where nothing may
overflow sideways.

Uses Debian's /usr/bin/chromium through Playwright (never ``playwright install``); skipped without it.
With ``WORKSPACE_SHOTS=/some/dir`` each page is saved there as a desktop and a phone screenshot.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.reps.models import CheckInAttempt, Rep
from integration.shops.models import StaffRole
from tests.helpers import LiveServer, add_shop
from tests.reps.world import ShopWorld, new_customer, outbox_link, populate
from tests.staff_fixtures import add_staff

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("WORKSPACE_SHOTS")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(settings, workers=1, test_sign_in=True)
    yield live
    live.stop()


@pytest.fixture
def world(runtime: Runtime) -> ShopWorld:
    world = populate(runtime, add_shop(runtime).id)
    with runtime.session() as db:  # a name longer than a phone is wide, and one customer who wants no calls
        db.execute(
            sa.update(Customer)
            .where(Customer.id == world.customers["lou"])
            .values(last_name="Angeles-Montgomery-Wolfeschlegelsteinhausen", call_consent="unsubscribed")
        )
        db.execute(sa.update(Rep).values(capacity=Rep.book_size))  # every book full: two customers wait
    for first, segment in (("Wanda", "new"), ("Vera", "vip")):
        waiting = new_customer(runtime, world.shop_id, first, "Waiting", rep_id=None, segment=segment)
        with runtime.session() as db:
            db.execute(sa.update(Customer).where(Customer.id == waiting).values(pool_since=utcnow()))
    return world


def watch(page: Any, problems: list[str]) -> None:
    """Collect what would show a page half-working: script errors, CSP refusals, failed sub-resources."""
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


# WCAG 2 contrast of every visible text against the background it is drawn on (the first opaque
# background up its ancestors): 4.5:1, or 3:1 for large text (24px, or 18.66px bold).
LOW_CONTRAST = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.visibility === "hidden" || el.getClientRects().length === 0) continue;
    if (el.closest(".visually-hidden") || el.closest(".skip-link")) continue;
    const fg = lum(rgb(style.color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const text = el.textContent.trim().slice(0, 30);
    if (ratio < needed) bad.push(`${el.tagName}.${el.className}: ${ratio.toFixed(2)} "${text}"`);
  }
  return bad;
}"""


def look(page: Any, name: str) -> None:
    """The page at desktop and phone widths: readable contrast, no sideways overflow on the phone, and
    the skip link first under the keyboard; screenshots if asked."""
    # Computed styles are only the stylesheet's once it has loaded; the DOM can be ready before.
    page.wait_for_load_state("load")
    assert page.evaluate(LOW_CONTRAST) == [], name
    assert page.locator("main").count() == 1 and page.locator("header.top").count() == 1
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content", name
    page.evaluate("document.activeElement.blur()")
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        if label == "phone":
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} overflows a phone's width by {overflow}px"
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SHOTS) / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def test_a_rep_signs_in_by_link_logs_a_call_and_the_merchant_hears_it(
    server: LiveServer, runtime: Runtime, world: ShopWorld
) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin = add_staff(runtime, world.shop_id, "1", role=StaffRole.ADMIN, name="Olive Owner")
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport=DESKTOP)
            context.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)
            page = context.new_page()
            watch(page, problems)

            # Signing in: the workspace sends strangers to the form; the keyboard is enough to use it.
            page.goto(f"{server.url}/workspace")
            expect(page.get_by_role("heading", name="Sign in to your customers")).to_be_visible()
            look(page, "01-sign-in")
            page.get_by_label("Email address").fill("rita@example.com")
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
            look(page, "02-link-sent")
            link = outbox_link(runtime, "rita@example.com")
            page.goto(f"{server.url}{link}")
            expect(page.get_by_text("Sign in as Rita Rep")).to_be_visible()
            look(page, "03-sign-in-confirm")
            page.get_by_role("button", name="Sign in").click()

            # Today: Rita's three calls, the customer furthest into their day first.
            expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
            names = page.locator("article.task h2").all_inner_texts()
            assert names[0] == "Kim Tokyo" and set(names) == {
                "Kim Tokyo",
                "Ada Lovelace",
                "Lou Angeles-Montgomery-Wolfeschlegelsteinhausen",
            }
            expect(page.locator("article.task").filter(has_text="Lou").locator(".badge.dnc")).to_have_text(
                "Do not call"
            )
            look(page, "04-today")

            # The call with Ada: a first try without an outcome is refused with the message by its field.
            page.get_by_role("link", name="Open the call with Ada Lovelace").click()
            expect(page.get_by_role("heading", name="Call Ada Lovelace")).to_be_visible()
            expect(page.get_by_text("Is it living up to your expectations?")).to_be_visible()
            look(page, "05-checkin")
            page.get_by_label("Notes").fill("Loves the shirt. The scarf is short.")
            page.get_by_role("button", name="Save the call").click()
            expect(page.locator("#outcome-error")).to_have_text("Choose how the call went.")
            expect(page.get_by_label("Notes")).to_have_value("Loves the shirt. The scarf is short.")
            look(page, "06-checkin-invalid")
            reached = page.get_by_label("Reached")
            reached.focus()
            page.keyboard.press("Space")  # keyboard, as a person without a mouse would
            expect(reached).to_be_checked()
            page.locator("label.score", has_text=re.compile(r"^\s*9\s*$")).click()
            page.get_by_label("What would they improve?").fill("Longer scarves")
            page.get_by_label("About which product?").select_option(label="Wool scarf")
            page.get_by_role("button", name="Save the call").click()
            expect(page.locator(".flash-success")).to_have_text("Call with Ada Lovelace saved.")
            expect(page.locator("article.task h2", has_text="Ada Lovelace")).to_have_count(0)

            # The customer's page: the call is on the timeline, with its notes.
            page.get_by_role("link", name="My customers").click()
            expect(page.get_by_role("heading", name="My customers")).to_be_visible()
            look(page, "07-my-customers")
            page.get_by_label("Search by name, email or order number").fill("lovelace")
            page.get_by_role("button", name="Search").click()
            page.get_by_role("link", name="Ada Lovelace").click()
            expect(page.get_by_role("heading", name="Ada Lovelace", exact=True)).to_be_visible()
            timeline = page.locator("ol.timeline")
            expect(timeline).to_contain_text("Check-in call by Rita Rep: reached")
            expect(timeline).to_contain_text("Loves the shirt. The scarf is short.")
            look(page, "08-customer")
            assert problems == []

            # The merchant hears it: the voice of the customer, per product and per rep.
            merchant = browser.new_context(viewport=DESKTOP)
            mpage = merchant.new_page()
            watch(mpage, problems)
            assert mpage.request.post(f"{server.url}/_test/sign-in", form={"staff_id": str(admin)}).ok
            mpage.goto(f"{server.url}/merchant/voice")
            expect(mpage.get_by_role("heading", name="Voice of the customer")).to_be_visible()
            rita = mpage.locator("tr", has=mpage.get_by_role("rowheader", name="Rita Rep"))
            expect(rita).to_contain_text("+100")
            expect(rita).to_contain_text("100 % (1 of 1)")
            expect(mpage.locator("tr", has=mpage.get_by_role("rowheader", name="Wool scarf"))).to_contain_text("+100")
            expect(mpage.get_by_text("Longer scarves")).to_be_visible()
            look(mpage, "09-voice")
            mpage.goto(f"{server.url}/merchant/waiting")
            expect(mpage.locator(".notice")).to_contain_text("Books are full.")
            assert mpage.locator("tbody th").all_inner_texts() == ["Vera Waiting", "Wanda Waiting"]
            for path, name in (
                ("/merchant/reps", "10-roster"),
                (f"/merchant/reps/{world.reps['rita']}", "11-rep"),
                ("/merchant/waiting", "12-waiting"),
                ("/merchant/customers", "13-customers"),
                (f"/merchant/customers/{world.customers['lou']}", "14-merchant-customer"),
                ("/settings", "15-settings"),
            ):
                response = mpage.goto(f"{server.url}{path}")
                assert response is not None and response.status == 200, path
                look(mpage, name)
            assert problems == []
        finally:
            browser.close()

    with runtime.session() as db:
        attempt = db.scalars(sa.select(CheckInAttempt)).one()
        assert (attempt.outcome, attempt.recommend, attempt.improve_product_id) == ("reached", 9, "p-scarf")
