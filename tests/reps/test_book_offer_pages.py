"""The merchant's per-book offers: the form on a rep's page (admin only, CSRF, 422 for a discount outside
1-100 or days outside 1-365, another shop's rep 404) and the "Offers by book" table on the roster."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.messaging.models import BookOffer, EmailSettings, OutboxMessage, ThankYouCode
from integration.shops.models import Shop, StaffRole
from tests.helpers import STORE_HASH, add_shop
from tests.reps.world import ShopWorld, csrf_from, populate
from tests.staff_fixtures import add_staff, sign_in


@pytest.fixture
def world(app_runtime: Runtime) -> ShopWorld:
    shop = add_shop(app_runtime)
    with app_runtime.session() as db:
        db.execute(sa.update(Shop).where(Shop.id == shop.id).values(currency="GBP"))
        db.add(EmailSettings(shop_id=shop.id, codes_enabled=True, code_percent=15, code_days=30))
    return populate(app_runtime, shop.id)


@pytest.fixture
def admin(client: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> FlaskClient:
    sign_in(client, add_staff(app_runtime, world.shop_id, "1", role=StaffRole.ADMIN, name="Olive Owner"))
    return client


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def offers(runtime: Runtime) -> list[tuple[int, bool, int, int]]:
    with runtime.session() as db:
        return [
            (o.rep_id, o.enabled, o.percent, o.days) for o in db.scalars(sa.select(BookOffer).order_by(BookOffer.id))
        ]


def book_row(html: str, name: str) -> str:
    table = html.split('id="offers-heading"', 1)[1]
    found = re.search(rf'<tr>\s*<th scope="row">\s*<a [^>]+>{name}</a>.*?</tr>', table, re.S)
    assert found, name
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0))).strip()


def test_setting_pausing_and_clearing_a_books_offer(admin: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    rita = world.reps["rita"]
    page = text(admin.get(f"/merchant/reps/{rita}"))
    assert "Rita Rep's customers get the shop's default: 15 % off for 30 days." in page
    token = csrf_from(page)

    saved = admin.post(
        f"/merchant/reps/{rita}/offer", data={"csrf_token": token, "enabled": "y", "percent": "25", "days": "10"}
    )
    assert saved.status_code == 303 and saved.headers["Location"].endswith(f"/merchant/reps/{rita}#offer-heading")
    assert offers(app_runtime) == [(rita, True, 25, 10)]
    page = text(admin.get(f"/merchant/reps/{rita}"))
    assert "get 25 % off for 10 days in their thank-you codes" in page  # the flash
    assert "Rita Rep's customers get 25 % off for 10 days." in page
    roster = text(admin.get("/merchant/reps"))
    assert book_row(roster, "Rita Rep") == "Rita Rep 25 % off for 10 days 0 0 \N{EN DASH} 0.00 GBP"
    assert book_row(roster, "Rob Rep") == "Rob Rep Shop default 0 0 \N{EN DASH} 0.00 GBP"

    # Unticked: kept, but paused (the shop's default applies).
    admin.post(f"/merchant/reps/{rita}/offer", data={"csrf_token": token, "percent": "25", "days": "10"})
    assert offers(app_runtime) == [(rita, False, 25, 10)]
    assert "Shop default (25 % off for 10 days paused)" in book_row(text(admin.get("/merchant/reps")), "Rita Rep")

    cleared = admin.post(f"/merchant/reps/{rita}/offer/clear", data={"csrf_token": token})
    assert cleared.status_code == 303 and offers(app_runtime) == []
    assert "default offer again" in text(admin.get(f"/merchant/reps/{rita}"))


@pytest.mark.parametrize(
    ("percent", "days", "message"),
    [
        ("0", "10", "Choose a discount from 1 to 100 %."),
        ("101", "10", "Choose a discount from 1 to 100 %."),
        ("", "10", "Choose a discount from 1 to 100 %."),
        ("ten", "10", "Not a valid integer value."),
        ("20", "0", "Choose from 1 to 365 days."),
        ("20", "366", "Choose from 1 to 365 days."),
    ],
)
def test_an_offer_outside_its_limits_is_refused_beside_its_field(
    admin: FlaskClient, app_runtime: Runtime, world: ShopWorld, percent: str, days: str, message: str
) -> None:
    rita = world.reps["rita"]
    token = csrf_from(text(admin.get(f"/merchant/reps/{rita}")))
    response = admin.post(
        f"/merchant/reps/{rita}/offer", data={"csrf_token": token, "enabled": "y", "percent": percent, "days": days}
    )
    assert response.status_code == 422
    html = text(response)
    assert message in html and 'aria-invalid="true"' in html and "The offer needs another look" in html
    assert offers(app_runtime) == []


def test_another_shops_rep_is_not_found_and_forms_need_csrf_and_the_admin(
    admin: FlaskClient, client: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    elsewhere = populate(app_runtime, add_shop(app_runtime, "bigcommerce", STORE_HASH, "bc").id, prefix="x")
    other = elsewhere.reps["rita"]
    token = csrf_from(text(admin.get("/merchant/reps")))
    good = {"csrf_token": token, "enabled": "y", "percent": "20", "days": "10"}
    assert admin.post(f"/merchant/reps/{other}/offer", data=good).status_code == 404
    assert admin.post(f"/merchant/reps/{other}/offer/clear", data={"csrf_token": token}).status_code == 404
    rita = world.reps["rita"]
    assert admin.post(f"/merchant/reps/{rita}/offer", data={**good, "csrf_token": ""}).status_code == 400
    assert offers(app_runtime) == []
    sign_in(client, add_staff(app_runtime, world.shop_id, "5", name="Sam Staff"))
    assert client.post(f"/merchant/reps/{rita}/offer", data=good).status_code in (400, 403)
    assert offers(app_runtime) == []


def test_the_roster_compares_books_codes(admin: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    rita, rob = world.reps["rita"], world.reps["rob"]
    now = utcnow()
    with app_runtime.session() as db:
        for n, (rep_id, redeemed) in enumerate([(rita, "40.00"), (rita, None), (rita, None), (rob, "12.50")]):
            mail = OutboxMessage(
                shop_id=world.shop_id, dedupe_key=f"t-{n}", template="thank_you", recipient="c@example.com",
                subject="Thanks", text_body="Thanks", status="sent",
            )  # fmt: skip
            db.add(mail)
            db.flush()
            db.add(
                ThankYouCode(
                    shop_id=world.shop_id, customer_id=world.customers["ada"], outbox_id=mail.id, code=f"THANKS-{n}",
                    percent=15, days=30, ends_at=now + dt.timedelta(days=30), state="created", fallback_text="x",
                    rep_id=rep_id, redeemed_at=now if redeemed else None,
                    redeemed_total=Decimal(redeemed) if redeemed else None,
                    redeemed_currency="GBP" if redeemed else None,
                )
            )  # fmt: skip
    html = text(admin.get("/merchant/reps"))
    assert book_row(html, "Rita Rep") == "Rita Rep Shop default 3 1 33 % 40.00 GBP"
    assert book_row(html, "Rob Rep") == "Rob Rep Shop default 1 1 100 % 12.50 GBP"
    assert "So far: 3 codes sent, 1 redeemed (33 %), 40.00 GBP from redeeming orders." in text(
        admin.get(f"/merchant/reps/{rita}")
    )


def test_the_roster_says_when_codes_are_off(admin: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    with app_runtime.session() as db:
        db.execute(sa.update(EmailSettings).values(codes_enabled=False))
    assert "Thank-you codes are off for the shop" in text(admin.get("/merchant/reps"))
