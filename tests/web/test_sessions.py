"""Staff sessions: where the test sign-in exists, how long a session lasts, what the cookie says, and
which Shopify session tokens sign anyone in."""

from __future__ import annotations

import datetime as dt
import time
import warnings
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from jwt.warnings import InsecureKeyLengthWarning

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.core.sessions import SESSION_LIFETIME
from integration.platforms.registry import PLATFORMS
from integration.shops.models import StaffUser
from integration.shops.staff import SESSION_CONFIRMED, SESSION_SIGNED_IN, SESSION_STAFF
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import SHOP_DOMAIN, AppFactory, LiveServer
from tests.staff_fixtures import People, sign_in


@pytest.fixture
def settings(settings: Settings, fake_shopify: FakeShopify) -> Settings:
    """Pointed at the fake Shopify, which mints the app's session tokens."""
    fake_shopify.oauth.configure(api_key=settings.shopify_api_key, secret=settings.shopify_api_secret)
    return settings.replace(shopify_admin_url=fake_shopify.admin_url_template)


SHOPIFY_CONFIRM_EVERY = PLATFORMS["shopify"].confirm_staff_every or 0


def age(client: FlaskClient, **seconds_ago: int) -> None:
    """Move the session's stamps into the past, as if that much time had passed."""
    now = int(time.time())
    with client.session_transaction() as session:
        for name, ago in seconds_ago.items():
            session[name] = now - ago


def stamps(client: FlaskClient) -> dict[str, Any]:
    with client.session_transaction() as session:
        return {k: session.get(k) for k in (SESSION_STAFF, SESSION_SIGNED_IN, SESSION_CONFIRMED)}


def open_app(client: FlaskClient, fake: FakeShopify, user_id: str, **claims: Any) -> Any:
    """What the Shopify admin does on every load of the embedded app: a fresh session token (signed with
    the app's secret; a claim given as None is left out)."""
    token = fake.oauth.session_token(SHOP_DOMAIN, user_id)
    if claims:
        payload = {**jwt.decode(token, options={"verify_signature": False}), **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the suite's secrets are short
            token = jwt.encode(payload, fake.oauth.secret, algorithm="HS256")
    return client.get(f"/shopify/app?{urlencode({'shop': SHOP_DOMAIN, 'host': 'x', 'id_token': token})}")


def session_cookie(response: Any) -> str:
    cookies = [v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")]
    assert len(cookies) == 1, response.headers
    return str(cookies[0])


# -- the test sign-in exists only where the suite mounts it


@pytest.mark.parametrize("app_env", ["test", "development"])
def test_the_app_never_mounts_the_test_sign_in(make_app: AppFactory, people: People, app_env: str) -> None:
    # APP_ENV=test used to mount POST /_test/sign-in: one environment variable signed anyone in as anyone.
    app = make_app(testing=False, app_env=app_env)
    assert "testing" not in app.blueprints
    assert not [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/_test")]
    client = app.test_client()
    assert client.post("/_test/sign-in", data={"staff_id": str(people.admin)}).status_code == 404
    assert client.get("/settings").status_code == 401


def test_the_suites_app_has_it(client: FlaskClient, people: People) -> None:
    sign_in(client, people.admin)
    assert client.get("/settings").status_code == 200


@pytest.mark.slow
def test_gunicorn_with_app_env_test_has_no_test_sign_in(settings: Settings, runtime: Runtime, people: People) -> None:
    """The Procfile's app under APP_ENV=test (the suite's settings) refuses; the browser tests' app signs in."""
    assert settings.app_env == "test"
    for test_sign_in, expected in ((False, 404), (True, 200)):
        server = LiveServer(settings, workers=1, test_sign_in=test_sign_in)
        try:
            answer = requests.post(f"{server.url}/_test/sign-in", data={"staff_id": str(people.admin)}, timeout=10)
            assert answer.status_code == expected, answer.text
        finally:
            server.stop()


# -- sessions end 12 hours after sign-in


def test_a_session_ends_12_hours_after_sign_in_however_busy(client: FlaskClient, other_shop: People) -> None:
    sign_in(client, other_shop.admin)  # a BigCommerce store: no hourly confirmation
    age(client, signed_in_at=SESSION_LIFETIME - 60, confirmed_at=SESSION_LIFETIME - 60)
    assert client.get("/settings").status_code == 200  # in use all along: nothing moved its end
    assert stamps(client)[SESSION_SIGNED_IN] <= time.time() - SESSION_LIFETIME + 60
    age(client, signed_in_at=SESSION_LIFETIME + 1)
    response = client.get("/settings")
    assert response.status_code == 401
    assert "open" in response.get_data(as_text=True) and "admin" in response.get_data(as_text=True)
    # The ended session is cleared (the cookie goes) and stays ended.
    assert "session=;" in session_cookie(response)
    assert client.get("/settings").status_code == 401


def test_a_session_without_a_sign_in_time_has_ended(client: FlaskClient, other_shop: People) -> None:
    # A cookie from before sessions carried their sign-in time (or one minted without it).
    sign_in(client, other_shop.admin)
    with client.session_transaction() as session:
        del session[SESSION_SIGNED_IN]
    assert client.get("/settings").status_code == 401


def test_requests_do_not_renew_the_session_cookie(client: FlaskClient, other_shop: People) -> None:
    response = client.post("/_test/sign-in", data={"staff_id": str(other_shop.admin)})
    expires = parsedate_to_datetime(session_cookie(response).split("Expires=")[1].split(";")[0])
    remaining = expires - dt.datetime.now(dt.UTC)
    assert dt.timedelta(seconds=SESSION_LIFETIME - 60) < remaining <= dt.timedelta(seconds=SESSION_LIFETIME)
    client.get("/settings")  # the first page view stores the CSRF token in the session
    again = client.get("/settings")
    assert again.status_code == 200
    assert not [v for v in again.headers.getlist("Set-Cookie") if v.startswith("session=")]


def test_the_csrf_token_lasts_as_long_as_the_session(app: Flask) -> None:
    assert app.config["WTF_CSRF_TIME_LIMIT"] == SESSION_LIFETIME == 12 * 3600
    assert app.permanent_session_lifetime == dt.timedelta(hours=12)


# -- Shopify: confirmed by a fresh session token at least hourly


def test_shopify_confirms_hourly_and_bigcommerce_reports_removals() -> None:
    assert (PLATFORMS["shopify"].confirm_staff_every, PLATFORMS["bigcommerce"].confirm_staff_every) == (3600, None)


def test_a_shopify_session_unconfirmed_for_an_hour_is_refused(client: FlaskClient, people: People) -> None:
    sign_in(client, people.admin)  # a Shopify shop
    age(client, confirmed_at=SHOPIFY_CONFIRM_EVERY - 60)
    assert client.get("/settings").status_code == 200
    age(client, confirmed_at=SHOPIFY_CONFIRM_EVERY + 1)
    response = client.get("/settings")
    assert response.status_code == 401
    assert "open" in response.get_data(as_text=True) and "admin" in response.get_data(as_text=True)
    assert client.get(f"/api/shops/{SHOP_DOMAIN}/customers/1").status_code == 401


def test_a_bigcommerce_session_needs_no_hourly_confirmation(client: FlaskClient, other_shop: People) -> None:
    # BigCommerce tells us when someone is removed (remove-user); its sessions just end at 12 hours.
    sign_in(client, other_shop.admin)
    age(client, signed_in_at=3 * 3600, confirmed_at=3 * 3600)
    assert client.get("/settings").status_code == 200


def test_opening_the_app_again_confirms_the_session_and_keeps_its_end(
    client: FlaskClient, fake_shopify: FakeShopify, people: People
) -> None:
    assert open_app(client, fake_shopify, "1").status_code == 303
    assert client.get("/settings").status_code == 200
    age(client, signed_in_at=2 * 3600, confirmed_at=2 * 3600)
    assert client.get("/settings").status_code == 401  # Shopify has not vouched for them for two hours
    before = stamps(client)

    assert open_app(client, fake_shopify, "1").status_code == 303  # the admin loads the app: a new token
    after = stamps(client)
    assert after[SESSION_STAFF] == people.admin
    assert after[SESSION_SIGNED_IN] == before[SESSION_SIGNED_IN]  # the session still ends on time
    assert after[SESSION_CONFIRMED] >= time.time() - 5
    assert client.get("/settings").status_code == 200


def test_opening_the_app_after_the_session_ended_starts_a_new_one(
    client: FlaskClient, fake_shopify: FakeShopify, people: People
) -> None:
    assert open_app(client, fake_shopify, "1").status_code == 303
    age(client, signed_in_at=SESSION_LIFETIME + 1, confirmed_at=600)
    assert client.get("/settings").status_code == 401
    assert open_app(client, fake_shopify, "1").status_code == 303
    assert stamps(client)[SESSION_SIGNED_IN] >= time.time() - 5
    assert client.get("/settings").status_code == 200


def test_another_person_opening_the_app_gets_a_session_of_their_own(
    client: FlaskClient, fake_shopify: FakeShopify, people: People
) -> None:
    assert open_app(client, fake_shopify, "1").status_code == 303
    age(client, signed_in_at=600)
    assert open_app(client, fake_shopify, "2").status_code == 303  # same browser, another staff member
    now = stamps(client)
    assert now[SESSION_STAFF] == people.staff
    assert now[SESSION_SIGNED_IN] >= time.time() - 5
    assert client.get("/settings").status_code == 403  # signed in as themselves, not as the admin


# -- Shopify session tokens from other surfaces sign nobody in


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"iss": None}, id="no-issuer"),
        pytest.param({"iss": f"https://{SHOP_DOMAIN}/checkouts"}, id="checkout-extension"),
        pytest.param({"sub": "gid://shopify/Customer/1"}, id="customer-gid"),
        pytest.param({"iss": None, "sub": "gid://shopify/Customer/1"}, id="customer-account"),
    ],
)
def test_session_tokens_from_other_shopify_surfaces_sign_nobody_in(
    client: FlaskClient, fake_shopify: FakeShopify, app_runtime: Runtime, people: People, claims: dict[str, Any]
) -> None:
    # Signed with this app's own secret (its extensions' tokens are), for a shop that has the app.
    response = open_app(client, fake_shopify, "1", **claims)
    assert response.status_code == 401
    assert client.get("/settings").status_code == 401
    with app_runtime.session() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 3  # the fixture's, no new one


# -- the cookie in the platforms' frames


@pytest.fixture
def https_client(make_app: AppFactory, people: People) -> FlaskClient:
    """The suite's app as it is deployed: reached over https (PUBLIC_URL)."""
    from tests.sign_in import mount

    return mount(make_app(testing=False, public_url="https://app.example.com")).test_client()


def test_over_https_the_session_cookie_is_partitioned_secure_and_cross_site(
    https_client: FlaskClient, people: People
) -> None:
    response = https_client.post("/_test/sign-in", data={"staff_id": str(people.admin)})
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in session_cookie(response).split(";")}
    assert {"secure", "httponly", "partitioned"} <= set(attributes)
    assert attributes["samesite"] == "SameSite=None"


def test_over_plain_http_the_session_cookie_is_an_ordinary_lax_one(client: FlaskClient, people: People) -> None:
    # Local development on http://127.0.0.1: a Secure or Partitioned cookie would not come back everywhere.
    response = client.post("/_test/sign-in", data={"staff_id": str(people.admin)})
    cookie = session_cookie(response)
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
    assert "Secure" not in cookie and "Partitioned" not in cookie
