"""Per-book offers in headless Chromium under gunicorn: the merchant sets a rep's book's offer (a discount
out of range refused beside its field first), then compares the books on the roster's "Offers by book"
table; on a phone's width, nothing wider than the screen. (Uses Debian's /usr/bin/chromium.)"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.messaging.models import BookOffer, EmailSettings, OutboxMessage, ThankYouCode
from integration.shops.models import Shop, StaffRole
from tests.helpers import LiveServer, add_shop
from tests.reps.world import ShopWorld, populate
from tests.staff_fixtures import add_staff
from tests.web.test_settings_browser import CHROMIUM, chromium, server, watch

__all__ = ["server"]  # the fixture, used by name

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]

# The page scrolls sideways, or something visible sticks out (a phone's tables hide their clipped header).
WIDER_THAN_THE_SCREEN = """() => Array.from(document.querySelectorAll("main *"))
    .filter((e) => !e.closest("thead"))
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map((e) => e.tagName + (e.id ? "#" + e.id : "") + " " + Math.round(e.getBoundingClientRect().right))"""


def codes_for(runtime: Runtime, world: ShopWorld, rep_key: str, redeemed: list[str | None]) -> None:
    """Thank-you codes of ``rep_key``'s book whose emails went; each redeemed for the amount given."""
    now = utcnow()
    with runtime.session() as db:
        for total in redeemed:
            number = db.scalar(sa.select(sa.func.count()).select_from(ThankYouCode)) or 0
            mail = OutboxMessage(
                shop_id=world.shop_id, dedupe_key=f"t-{number}", template="thank_you", recipient="c@example.com",
                subject="Thanks", text_body="Thanks", status="sent",
            )  # fmt: skip
            db.add(mail)
            db.flush()
            db.add(
                ThankYouCode(
                    shop_id=world.shop_id, customer_id=world.customers["ada"], outbox_id=mail.id,
                    code=f"THANKS-{number:08d}", percent=15, days=30, ends_at=now + dt.timedelta(days=30),
                    state="created", fallback_text="x", rep_id=world.reps[rep_key],
                    redeemed_at=now if total else None, redeemed_total=Decimal(total) if total else None,
                    redeemed_currency="GBP" if total else None,
                )
            )  # fmt: skip


@pytest.mark.parametrize("width", [390, 1200])
def test_the_merchant_sets_a_books_offer_and_compares_the_books(
    server: LiveServer, runtime: Runtime, tmp_path: Path, width: int
) -> None:
    from playwright.sync_api import expect

    shop = add_shop(runtime)
    with runtime.session() as db:
        db.execute(sa.update(Shop).where(Shop.id == shop.id).values(name="Fern & Co", currency="GBP"))
        db.add(EmailSettings(shop_id=shop.id, codes_enabled=True, code_percent=15, code_days=30))
    world = populate(runtime, shop.id)
    codes_for(runtime, world, "rita", ["48.00", None, None, None])
    codes_for(runtime, world, "rob", ["30.00", "22.50", None])
    admin = add_staff(runtime, shop.id, "1", role=StaffRole.ADMIN, name="Olive Owner", email="olive@example.com")
    rita = world.reps["rita"]
    shots = Path(os.environ.get("SCREENSHOTS") or tmp_path)
    problems: list[str] = []
    with chromium() as context:
        page = context.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        watch(page, problems)
        assert page.request.post(f"{server.url}/_test/sign-in", form={"staff_id": str(admin)}).ok
        assert page.goto(f"{server.url}/merchant/reps/{rita}") is not None
        section = page.locator("section", has=page.get_by_role("heading", name="Thank-you code offer"))
        expect(section).to_contain_text("Rita Rep's customers get the shop's default: 15 % off for 30 days.")
        expect(section).to_contain_text("So far: 4 codes sent, 1 redeemed (25 %), 48.00 GBP from redeeming orders.")

        section.get_by_label("Discount (%)").fill("120")
        section.get_by_label("Valid for (days)").fill("10")
        section.get_by_role("button", name="Save the offer").click()
        discount = page.get_by_label("Discount (%)")
        expect(discount).to_have_attribute("aria-invalid", "true")
        expect(page.locator(".field.has-errors")).to_contain_text("Choose a discount from 1 to 100 %.")
        expect(page.get_by_label("Valid for (days)")).to_have_value("10")  # what was typed stays
        section.screenshot(path=str(shots / f"rep-offer-refused-{width}.png"))
        discount.fill("25")
        page.get_by_role("button", name="Save the offer").click()

        expect(page.locator(".flash-success")).to_contain_text("get 25 % off for 10 days in their thank-you codes")
        page.wait_for_load_state("load")
        assert page.evaluate(WIDER_THAN_THE_SCREEN) == []
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(shots / f"rep-offer-{width}.png"), full_page=True)

        page.get_by_role("link", name="← Reps").click()
        table = page.get_by_role("table", name="Thank-you codes per book")
        rita_row = table.get_by_role("row", name="Rita Rep")
        expect(rita_row).to_contain_text("25 % off for 10 days")
        expect(rita_row.locator('td[data-label="Codes sent"]')).to_have_text("4")
        expect(rita_row.locator('td[data-label="Redeemed"]')).to_have_text("1")
        expect(rita_row.locator('td[data-label="Redemption rate"]')).to_have_text("25 %")
        expect(rita_row.locator('td[data-label="Revenue"]')).to_have_text("48.00 GBP")
        rob_row = table.get_by_role("row", name="Rob Rep")
        expect(rob_row).to_contain_text("Shop default")
        expect(rob_row.locator('td[data-label="Redemption rate"]')).to_have_text("67 %")
        expect(rob_row.locator('td[data-label="Revenue"]')).to_have_text("52.50 GBP")
        assert page.evaluate(WIDER_THAN_THE_SCREEN) == []
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        page.locator("#offers").screenshot(path=str(shots / f"offers-by-book-{width}.png"))
        page.screenshot(path=str(shots / f"roster-{width}.png"), full_page=True)
        assert problems == []
    with runtime.session() as db:
        offer = db.scalars(sa.select(BookOffer)).one()
        assert (offer.rep_id, offer.enabled, offer.percent, offer.days) == (rita, True, 25, 10)
