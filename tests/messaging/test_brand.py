"""The shop's colour: WCAG contrast kept (text on the accent is white or near-black as readable; a light
colour is darkened for links), chosen in the Email settings (bad values refused with a 422 and a message,
a swatch shown), and used on the customer pages (allowed by a CSP nonce) and in the thank-you's HTML."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from integration.core.runtime import Runtime
from integration.messaging.brand import BLACK, DEFAULT_ACCENT, NEAR_BLACK, PAGE_BACKGROUND, WHITE, contrast, make_brand
from integration.messaging.links import PREFERENCES, UNSUBSCRIBE, make_token
from integration.messaging.models import EmailSettings, OutboxMessage
from integration.shops.models import Shop
from tests.helpers import add_shop
from tests.messaging.test_settings_section import post_email, saved
from tests.reps.conftest import World, utc
from tests.staff_fixtures import People, sign_in


def test_contrast_is_wcags() -> None:
    assert contrast(BLACK, WHITE) == pytest.approx(21)
    assert contrast("#777777", WHITE) == pytest.approx(4.48, abs=0.01)  # the classic "just fails" grey
    assert contrast(WHITE, WHITE) == pytest.approx(1)


@pytest.mark.parametrize(
    ("colour", "on_accent", "link_changed"),
    [
        ("#0b7a3e", WHITE, False),  # a dark green: white text, links as chosen
        ("#ffdd00", NEAR_BLACK, True),  # a yellow: dark text, links darkened
        ("#777777", BLACK, True),  # where white and near-black both fall short, black does not
        ("#E0F2F1", NEAR_BLACK, True),  # upper case, a pale mint
    ],
)
def test_text_on_the_accent_and_links_always_reach_4_5(colour: str, on_accent: str, link_changed: bool) -> None:
    brand = make_brand(colour)
    assert brand.accent == colour.lower() and brand.on_accent == on_accent
    assert contrast(brand.on_accent, brand.accent) >= 4.5
    assert contrast(brand.link, PAGE_BACKGROUND) >= 4.5 and contrast(brand.link, WHITE) >= 4.5
    assert (brand.link != brand.accent) is link_changed


def test_every_colour_gets_readable_text() -> None:
    for value in range(0, 0x1000000, 0x010305 * 7):  # a spread of colours across the cube
        brand = make_brand(f"#{value:06x}")
        assert contrast(brand.on_accent, brand.accent) >= 4.5, brand
        assert contrast(brand.link, PAGE_BACKGROUND) >= 4.5, brand


def test_no_or_a_bad_stored_colour_is_the_default() -> None:
    assert make_brand(None).accent == make_brand("red").accent == DEFAULT_ACCENT


def test_the_admin_sets_the_colour_a_bad_one_is_refused(
    client: FlaskClient, app_runtime: Runtime, people: People
) -> None:
    sign_in(client, people.admin)
    for bad in ("red", "#12345", "#1234567", "#gg0000", "1f5fbf", "#fff"):
        response = post_email(client, "save", brand_colour=bad)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, bad
        assert "A colour like #1f5fbf: # and six hexadecimal digits." in page and 'role="alert"' in page
    assert saved(app_runtime) == []

    assert post_email(client, "save", brand_colour="#FFDD00").status_code == 303
    assert saved(app_runtime)[0].brand_colour == "#ffdd00"
    page = client.get("/settings").get_data(as_text=True)
    assert 'value="#ffdd00"' in page
    swatch = re.search(r'<figure class="swatch">.*?</figure>', page, re.S)
    assert swatch is not None and 'fill="#ffdd00"' in swatch.group(0) and 'fill="#111111"' in swatch.group(0)
    assert "style=" not in swatch.group(0)  # SVG attributes: the page's CSP allows no inline style

    assert post_email(client, "save", brand_colour="").status_code == 303  # empty: back to the default
    assert saved(app_runtime)[0].brand_colour is None


@pytest.fixture
def world(app_runtime: Runtime) -> World:
    shop = add_shop(app_runtime)
    with app_runtime.session() as session:
        session.execute(
            sa.update(Shop).where(Shop.id == shop.id).values(name="Fern & Co", sender_email="hi@fern.example")
        )
        session.add(EmailSettings(shop_id=shop.id, brand_colour="#ffdd00"))
    found = World(app_runtime, shop.id)
    found.rep("dana@fern.example")
    found.order(1001, email="ann@example.com", zone="America/Los_Angeles", now=utc(2027, 1, 1, 0, 10))
    return found


def test_the_pages_wear_the_shops_colour_under_a_nonce(client: FlaskClient, world: World) -> None:
    brand = make_brand("#ffdd00")
    customer_id = world.customer().id
    settings = world.runtime.settings
    for path in (
        f"/p/{make_token(settings, PREFERENCES, world.shop_id, customer_id, 0)}",
        f"/u/{make_token(settings, UNSUBSCRIBE, world.shop_id, customer_id, 0)}",
    ):
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        style = re.search(r'<style nonce="([^"]+)">([^<]*)</style>', page)
        assert style is not None
        assert f"--accent: #ffdd00; --on-accent: {NEAR_BLACK}; --accent-link: {brand.link};" in style.group(2)
        assert f"style-src 'self' 'nonce-{style.group(1)}'" in response.headers["Content-Security-Policy"]
    # A broken link knows no shop: the app's own colour, still under a nonce.
    broken = client.get("/p/broken").get_data(as_text=True)
    assert f"--accent: {DEFAULT_ACCENT};" in broken


def test_the_thank_you_html_wears_the_shops_colour(world: World) -> None:
    with world.runtime.session() as session:
        [mail] = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "thank_you")).all()
    assert mail.html_body is not None
    brand = make_brand("#ffdd00")
    # Inlined: the button in the accent with readable text, links in the darkened colour.
    button = re.search(r'<a class="button"[^>]*style="([^"]*)"', mail.html_body)
    assert button is not None and "background: #ffdd00" in button.group(1) and f"color: {NEAR_BLACK}" in button.group(1)
    assert f"color: {brand.link}" in mail.html_body and "border-top: 6px solid #ffdd00" in mail.html_body
