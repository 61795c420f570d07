"""The ops console in a real headless Chromium against the app under gunicorn and a real RQ worker: sign
in, the overview's numbers are the database's, replay an event and see it done, requeue a failed job,
reveal an event's customer data and find the audit row. Every page is also checked at a phone's width.

With ``OPS_SHOTS=/some/dir`` each page is saved there as a desktop and a phone screenshot.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from rq.registry import FailedJobRegistry

from integration.core.config import Settings
from integration.core.queues import BULK
from integration.core.runtime import Runtime
from integration.events.dispatch import relay_once
from integration.events.models import EventStatus, WebhookEvent
from integration.ops.accounts import create_user
from integration.ops.models import OpsReveal
from tests.helpers import LiveServer, add_shop, crash, fixture_bytes, shopify_headers, start_worker, wait_until
from tests.ops.conftest import OPS_EMAIL, OPS_PASSWORD
from tests.reps import test_workspace_browser as pages

CHROMIUM = pages.CHROMIUM
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]
SHOTS = os.environ.get("OPS_SHOTS")


@pytest.fixture
def stack(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings, workers=1)
    worker = start_worker(settings)
    yield server
    server.stop()
    crash(worker)


def statuses(runtime: Runtime) -> dict[str, int]:
    with runtime.session() as db:
        rows = db.execute(sa.select(WebhookEvent.status, sa.func.count()).group_by(WebhookEvent.status)).all()
    return {status: int(n) for status, n in rows}


WIDEST = """() => [...document.querySelectorAll("body *")]
  .filter((el) => !el.closest(".table-scroll, details") && el.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(-5).map((el) => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`)"""


def look(page: object, name: str) -> None:
    page.set_viewport_size(pages.PHONE)  # type: ignore[attr-defined]
    page.wait_for_load_state("load")  # type: ignore[attr-defined]
    wide = page.evaluate(WIDEST)  # type: ignore[attr-defined]
    page.set_viewport_size(pages.DESKTOP)  # type: ignore[attr-defined]
    assert wide == [], f"{name}: wider than a phone: {wide}"
    pages.look(page, name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_on_call_signs_in_checks_numbers_replays_requeues_and_reveals(
    stack: LiveServer, runtime: Runtime, settings: Settings
) -> None:
    from playwright.sync_api import expect, sync_playwright

    shop = add_shop(runtime)
    with runtime.session() as db:
        create_user(db, OPS_EMAIL, OPS_PASSWORD)
    body = fixture_bytes("shopify/shopify_orders_create.json")
    for i in range(3):
        headers = shopify_headers(body, webhook_id=f"b{i}", shop=shop.identifier)
        assert requests.post(stack.url + "/webhooks/shopify", data=body, headers=headers, timeout=10).ok
    forged = {**shopify_headers(body, webhook_id="forged"), "X-Shopify-Hmac-Sha256": "AAAA"}
    assert requests.post(stack.url + "/webhooks/shopify", data=body, headers=forged, timeout=10).status_code == 401
    while relay_once(runtime):
        pass
    wait_until(lambda: statuses(runtime) == {EventStatus.DONE: 3}, timeout=60, message="events done")
    marker = Path(settings.instance_path) / "let-it-pass"
    failing = runtime.queue(BULK).enqueue("tests.ops.jobs.fails_until", str(marker))
    failed = FailedJobRegistry(BULK, connection=runtime.redis)
    wait_until(lambda: failing.id in failed, timeout=60, message="the job failed")

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=pages.ARGS)
        try:
            context = browser.new_context(viewport=pages.DESKTOP)
            context.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)
            page = context.new_page()
            pages.watch(page, problems)

            page.goto(f"{stack.url}/")
            expect(page.get_by_role("heading", name="Personal Commerce")).to_be_visible()
            look(page, "ops-01-front-door")

            page.goto(f"{stack.url}/ops")
            expect(page.get_by_role("heading", name="Ops console")).to_be_visible()
            look(page, "ops-02-sign-in")
            page.get_by_label("Email address").fill(OPS_EMAIL)
            page.get_by_label("Password").fill(OPS_PASSWORD)
            page.keyboard.press("Enter")

            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            for status, n in statuses(runtime).items():
                expect(page.locator(f'dd[data-status="{status}"]')).to_have_text(str(n))
            expect(page.locator('dd[data-status="failed"]')).to_have_text("0")
            expect(page.locator('[data-count="shopify-accepted-200"]')).to_have_text("3")
            expect(page.locator('[data-count="shopify-rejected-401"]')).to_have_text("1")
            expect(page.locator('tr[data-queue="bulk"] td').nth(4)).to_have_text("1")
            expect(page.locator("svg.chart")).to_be_visible()
            look(page, "ops-03-overview")

            # Replay one event from its page and watch it run again to done.
            page.get_by_role("link", name="Events", exact=True).click()
            expect(page.get_by_role("heading", name="Events")).to_be_visible()
            look(page, "ops-04-events")
            page.get_by_role("link", name="1", exact=True).click()
            expect(page.get_by_role("heading", name="Event 1")).to_be_visible()
            expect(page.get_by_test_id("body")).not_to_contain_text("jon@example.com")
            page.get_by_role("button", name="Replay").click()
            expect(page.get_by_text("Event 1 is queued to run again.")).to_be_visible()
            wait_until(lambda: statuses(runtime) == {EventStatus.DONE: 3}, timeout=60, message="replayed")
            with runtime.session() as db:
                assert db.get_one(WebhookEvent, 1).attempts == 1  # ran again from zero
            page.get_by_role("link", name="Reload").click()
            expect(page.get_by_test_id("status")).to_have_text("done")

            # Reveal: the customer's address appears, and the audit row says who and which event.
            page.get_by_role("button", name="Reveal customer data").click()
            expect(page.get_by_test_id("body")).to_contain_text("jon@example.com")
            look(page, "ops-05-event-revealed")
            with runtime.session() as db:
                audit = db.scalars(sa.select(OpsReveal)).one()
                assert (audit.ops_email, audit.event_id) == (OPS_EMAIL, 1)

            # Requeue the failed job once it can pass: it leaves the failed list and finishes.
            page.get_by_role("link", name="Failed jobs").click()
            expect(page.locator(f'tr[data-job="{failing.id}"]')).to_contain_text("the marker file is not there yet")
            look(page, "ops-06-failed")
            marker.write_text("go")
            page.get_by_role("button", name=f"Requeue {failing.id}").click()
            expect(page.get_by_text(f"Job {failing.id} is queued again.")).to_be_visible()
            wait_until(lambda: failing.get_status(refresh=True) == "finished", timeout=60, message="requeued job ran")
            page.get_by_role("link", name="Failed jobs").click()
            expect(page.get_by_text("No failed jobs.")).to_be_visible()

            for path, name in (("/ops/shops", "ops-07-shops"), ("/ops/outbox", "ops-08-outbox")):
                page.goto(stack.url + path)
                look(page, name)
            page.goto(stack.url + "/ops/rq/")
            expect(page.locator("body")).to_contain_text("Queues")
            if SHOTS:
                page.screenshot(path=str(Path(SHOTS) / "ops-09-rq.png"))

            page.goto(stack.url + "/ops")
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Ops console")).to_be_visible()
            page.goto(stack.url + "/ops/events")
            expect(page.get_by_role("heading", name="Ops console")).to_be_visible()
        finally:
            with contextlib.suppress(Exception):
                browser.close()
    # rq-dashboard's own page loads scripts inline, which only its page allows; none of ours failed.
    assert problems == []
