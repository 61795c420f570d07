"""Shopify install, callback, embedded sign-in and the uninstall/reinstall lifecycle, against the
real-HTTP fake Shopify; and the whole install in headless Chromium against gunicorn."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from integration import runtime_of
from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.events.models import WebhookEvent
from integration.events.processing import EventFailed, EventProcessor, Outcome
from integration.platforms.shopify.oauth import query_hmac
from integration.reps.models import Rep
from integration.reps.roster import RepInput, add_rep, leave
from integration.shops.models import Shop, ShopState, StaffRole, StaffUser, TokenState
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import SHOP_DOMAIN, SHOPIFY_SECRET, LiveServer, drain, post_shopify, update_shop

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def settings(settings: Settings, fake_shopify: FakeShopify) -> Settings:
    """The suite's settings pointed at the fake Shopify, which knows the app's key and secret."""
    fake_shopify.oauth.configure(api_key=settings.shopify_api_key, secret=settings.shopify_api_secret)
    return settings.replace(shopify_admin_url=fake_shopify.admin_url_template)


@pytest.fixture
def shopify_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
def runtime(app: Flask) -> Runtime:
    return runtime_of(app)  # the app's own, so tests and requests share one engine


def signed(params: dict[str, str], secret: str = SHOPIFY_SECRET) -> str:
    pairs = list(params.items())
    return urlencode([*pairs, ("hmac", query_hmac(pairs, secret.encode()))])


def now() -> str:
    return str(int(time.time()))


def start_install(client: FlaskClient, shop: str = SHOP_DOMAIN) -> dict[str, str]:
    """GET /shopify/install; returns the authorize URL's query."""
    response = client.get(f"/shopify/install?{signed({'shop': shop, 'timestamp': now()})}")
    assert response.status_code == 302, response.get_json()
    location = response.headers["Location"]
    return dict(parse_qsl(urlsplit(location).query))


def callback_query(fake: FakeShopify, state: str, shop: str = SHOP_DOMAIN, **extra: str) -> str:
    params = {"code": fake.oauth.issue_code(shop), "shop": shop, "state": state, "timestamp": now(), **extra}
    return signed(params)


def shop_row(runtime: Runtime, domain: str = SHOP_DOMAIN) -> Shop | None:
    with runtime.session() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.identifier == domain))
        if shop is not None:
            session.expunge(shop)
        return shop


# -- install


def test_install_redirects_to_the_shop_authorize_page_with_a_state_cookie(
    client: FlaskClient, fake_shopify: FakeShopify, shopify_settings: Settings
) -> None:
    response = client.get(f"/shopify/install?{signed({'shop': SHOP_DOMAIN, 'timestamp': now()})}")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{fake_shopify.url}/{SHOP_DOMAIN}/admin/oauth/authorize?")
    query = dict(parse_qsl(urlsplit(location).query))
    assert query["client_id"] == "test-api-key"
    assert query["scope"] == shopify_settings.shopify_scopes
    assert query["redirect_uri"] == f"{shopify_settings.public_url}/shopify/callback"
    assert len(query["state"]) >= 32
    assert "grant_options[]" not in query  # offline
    cookie = response.headers["Set-Cookie"]
    assert "shopify_oauth_state=" in cookie and "HttpOnly" in cookie and "Max-Age=300" in cookie
    assert query["state"] not in cookie  # signed and encoded, never the bare nonce


@pytest.mark.parametrize(
    "query",
    [
        {"shop": SHOP_DOMAIN},  # no timestamp
        {"shop": SHOP_DOMAIN, "timestamp": str(int(time.time()) - 3600)},
        {"shop": "evil.com/.myshopify.com", "timestamp": "NOW"},
        {"shop": "evil.com", "timestamp": "NOW"},
        {"shop": "demo.myshopify.com.evil.com", "timestamp": "NOW"},
        {"shop": "demo.myshopify.com@evil.com", "timestamp": "NOW"},
        {"shop": "//evil.com", "timestamp": "NOW"},
    ],
)
def test_install_refuses_stale_or_bad_shop(client: FlaskClient, query: dict[str, str]) -> None:
    query = {k: now() if v == "NOW" else v for k, v in query.items()}
    response = client.get(f"/shopify/install?{signed(query)}")
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_install_refuses_a_forged_signature(client: FlaskClient) -> None:
    query = signed({"shop": SHOP_DOMAIN, "timestamp": now()}, secret="shpss_someone_else")
    assert client.get(f"/shopify/install?{query}").status_code == 400
    unsigned = urlencode({"shop": SHOP_DOMAIN, "timestamp": now()})
    assert client.get(f"/shopify/install?{unsigned}").status_code == 400


# -- callback


def test_callback_stores_encrypted_expiring_tokens_subscribes_and_opens_the_app(
    client: FlaskClient, fake_shopify: FakeShopify, runtime: Runtime, shopify_settings: Settings
) -> None:
    state = start_install(client)["state"]
    response = client.get(f"/shopify/callback?{callback_query(fake_shopify, state)}")
    assert response.status_code == 302, response.get_json()
    assert response.headers["Location"] == f"{fake_shopify.url}/{SHOP_DOMAIN}/admin/apps/test-api-key"
    assert "shopify_oauth_state=;" in response.headers["Set-Cookie"]  # spent
    shop = shop_row(runtime)
    assert shop is not None and shop.state == ShopState.ACTIVE and shop.token_state == TokenState.OK
    access = runtime.cipher.decrypt(shop.access_token_enc or "")
    assert access.startswith("shpat_") and access not in (shop.access_token_enc or "")
    assert runtime.cipher.decrypt(shop.refresh_token_enc or "").startswith("shprt_")
    assert shop.access_token_expires_at is not None and shop.refresh_token_expires_at is not None
    token_call = next(r for r in fake_shopify.requests if r.path.endswith("/admin/oauth/access_token"))
    assert token_call.body["expiring"] == "1"
    # Subscriptions were put in place right away and recorded for ops.
    assert {s["uri"] for s in fake_shopify.subscriptions(SHOP_DOMAIN)} == {
        f"{shopify_settings.public_url}/webhooks/shopify"
    }
    assert shop.subscriptions_checked_at is not None and '"app/uninstalled"' in (shop.subscriptions_report or "")
    # ... and its backfill queued.
    assert runtime.queue("bulk").job_ids == [f"reconcile-{shop.id}"]


def test_callback_with_forged_state_is_refused(
    client: FlaskClient, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    start_install(client)
    response = client.get(f"/shopify/callback?{callback_query(fake_shopify, 'forged-state-value')}")
    assert response.status_code == 400
    assert shop_row(runtime) is None
    assert fake_shopify.oauth.calls["authorization_code"] == 0


def test_callback_without_the_cookie_is_refused(app: Flask, fake_shopify: FakeShopify, runtime: Runtime) -> None:
    state = start_install(app.test_client())["state"]
    other_browser = app.test_client()
    assert other_browser.get(f"/shopify/callback?{callback_query(fake_shopify, state)}").status_code == 400
    assert shop_row(runtime) is None


def test_state_is_single_use(client: FlaskClient, fake_shopify: FakeShopify) -> None:
    state = start_install(client)["state"]
    cookie = client.get_cookie("shopify_oauth_state", path="/shopify/")
    assert cookie is not None
    assert client.get(f"/shopify/callback?{callback_query(fake_shopify, state)}").status_code == 302
    # Replaying the same cookie and state (even with a fresh, validly signed query) fails.
    client.set_cookie("shopify_oauth_state", cookie.value, path="/shopify/")
    assert client.get(f"/shopify/callback?{callback_query(fake_shopify, state)}").status_code == 400
    assert fake_shopify.oauth.calls["authorization_code"] == 1


def test_callback_for_another_shop_than_the_install_is_refused(
    client: FlaskClient, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    state = start_install(client)["state"]
    query = callback_query(fake_shopify, state, shop="other-shop.myshopify.com")
    assert client.get(f"/shopify/callback?{query}").status_code == 400
    assert shop_row(runtime, "other-shop.myshopify.com") is None


@pytest.mark.parametrize(
    "tamper",
    ["stale", "unsigned", "evil-shop"],
)
def test_callback_refuses_stale_unsigned_or_bad_shop(
    client: FlaskClient, fake_shopify: FakeShopify, tamper: str
) -> None:
    state = start_install(client)["state"]
    params = {
        "code": fake_shopify.oauth.issue_code(SHOP_DOMAIN),
        "shop": SHOP_DOMAIN,
        "state": state,
        "timestamp": now(),
    }
    if tamper == "stale":
        params["timestamp"] = str(int(time.time()) - 91)
        query = signed(params)
    elif tamper == "unsigned":
        query = urlencode(params)
    else:
        params["shop"] = "evil.com/.myshopify.com"
        query = signed(params)
    response = client.get(f"/shopify/callback?{query}")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert fake_shopify.oauth.calls["authorization_code"] == 0


def test_refused_code_is_not_an_install_and_the_code_stays_out_of_the_answer(
    client: FlaskClient, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    state = start_install(client)["state"]
    params = {"code": "code-never-issued", "shop": SHOP_DOMAIN, "state": state, "timestamp": now()}
    response = client.get(f"/shopify/callback?{signed(params)}")
    assert response.status_code == 400
    assert "code-never-issued" not in response.get_data(as_text=True)
    assert shop_row(runtime) is None


# -- embedded app


def install_shop(client: FlaskClient, fake: FakeShopify) -> None:
    state = start_install(client)["state"]
    assert client.get(f"/shopify/callback?{callback_query(fake, state)}").status_code == 302


def staff_rows(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.session() as session:
        return [(s.platform_user_id, s.role) for s in session.scalars(sa.select(StaffUser).order_by(StaffUser.id))]


def open_app(client: FlaskClient, fake: FakeShopify, user_id: str, shop: str = SHOP_DOMAIN) -> Any:
    """Shopify admin opening the embedded app for this staff member (a document load with ``id_token``)."""
    token = fake.oauth.session_token(shop, user_id)
    return client.get(f"/shopify/app?{urlencode({'embedded': '1', 'shop': shop, 'host': 'x', 'id_token': token})}")


def people(runtime: Runtime) -> list[tuple[str, str, str | None, str | None, bool]]:
    with runtime.session() as session:
        return [
            (s.platform_user_id, s.role, s.name, s.email, s.is_owner)
            for s in session.scalars(sa.select(StaffUser).order_by(StaffUser.id))
        ]


def test_the_account_owner_is_the_admin_whoever_opens_the_app_first(
    app: Flask, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    install_shop(app.test_client(), fake_shopify)
    fake_shopify.oauth.owner_id = "7002"
    fake_shopify.oauth.add_user("7001", first_name="Sam", last_name="Staff", email="sam@example.com")
    fake_shopify.oauth.add_user("7002", first_name="Olive", last_name="Owner", email="olive@example.com")

    first = app.test_client()
    response = open_app(first, fake_shopify, "7001")
    assert response.status_code == 303 and response.headers["Location"] == "/settings"
    assert (
        response.headers["Content-Security-Policy"]
        == f"frame-ancestors https://{SHOP_DOMAIN} https://admin.shopify.com"
    )
    assert first.get_cookie("session") is not None
    assert first.get("/settings").status_code == 403  # first, but not the owner: staff
    owner = app.test_client()
    bearer = {"Authorization": f"Bearer {fake_shopify.oauth.session_token(SHOP_DOMAIN, '7002')}"}
    assert owner.get("/shopify/app", headers=bearer).status_code == 303
    assert owner.get("/settings").status_code == 200
    assert people(runtime) == [
        ("7001", StaffRole.STAFF, "Sam Staff", "sam@example.com", False),
        ("7002", StaffRole.ADMIN, "Olive Owner", "olive@example.com", True),
    ]
    # Each open asked Shopify who the person is (an online token), and kept no online token.
    assert fake_shopify.oauth.calls["online_token_exchange"] == 2
    online = [r.body for r in fake_shopify.requests if r.path.endswith("/admin/oauth/access_token")][-1]
    assert online["requested_token_type"] == "urn:shopify:params:oauth:token-type:online-access-token"
    assert "expiring" not in online  # offline tokens only
    shop = shop_row(runtime)
    assert shop is not None and "shpua_" not in runtime.cipher.decrypt(shop.access_token_enc or "")


def test_opening_the_app_takes_a_rep_to_the_workspace_and_the_admin_to_the_settings(
    app: Flask, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    install_shop(app.test_client(), fake_shopify)
    fake_shopify.oauth.owner_id = "7002"
    fake_shopify.oauth.add_user("7001", first_name="Sam", last_name="Staff", email="sam@example.com")
    fake_shopify.oauth.add_user("7002", first_name="Olive", last_name="Owner", email="olive@example.com")
    fake_shopify.oauth.add_user("7003", first_name="Cal", last_name="Clerk", email="cal@example.com")
    shop = shop_row(runtime)
    assert shop is not None
    with runtime.session() as session:  # Sam and the owner are reps (on the roster by their email)
        for name, email in (("Sam Staff", "sam@example.com"), ("Olive Owner", "olive@example.com")):
            add_rep(session, shop.id, RepInput(name=name, email=email, time_zone="Europe/London"))

    rep = app.test_client()
    response = open_app(rep, fake_shopify, "7001")
    assert response.status_code == 303 and response.headers["Location"] == "/workspace"
    assert response.headers["Content-Security-Policy"] == (
        f"frame-ancestors https://{SHOP_DOMAIN} https://admin.shopify.com"
    )
    today = rep.get("/workspace")
    assert today.status_code == 200 and "<h1>Today</h1>" in today.get_data(as_text=True)
    assert rep.get("/settings").status_code == 403  # what they got before: the settings are the admin's
    owner = app.test_client()  # the admin lands on the settings, rep or not
    assert open_app(owner, fake_shopify, "7002").headers["Location"] == "/settings"
    clerk = app.test_client()  # staff who are not reps: the settings page, which says whose it is
    assert open_app(clerk, fake_shopify, "7003").headers["Location"] == "/settings"
    with runtime.session() as session:  # a rep who left is staff again
        leave(session, session.scalars(sa.select(Rep).where(Rep.email == "sam@example.com")).one())
    assert open_app(app.test_client(), fake_shopify, "7001").headers["Location"] == "/settings"


def test_ownership_moving_on_shopify_moves_the_admin_but_keeps_an_admin_the_merchant_chose(
    app: Flask, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    install_shop(app.test_client(), fake_shopify)
    shop = shop_row(runtime)
    assert shop is not None
    with runtime.session() as session:  # made admin by the merchant (or by the old "first to open" rule)
        session.add(StaffUser(shop_id=shop.id, platform_user_id="7009", role=StaffRole.ADMIN))
    assert open_app(app.test_client(), fake_shopify, "7001").status_code == 303  # the owner
    fake_shopify.oauth.owner_id = "7002"  # the shop is handed over
    assert open_app(app.test_client(), fake_shopify, "7002").status_code == 303
    roles = {user: (role, owner) for user, role, _name, _email, owner in people(runtime)}
    assert roles == {
        "7009": (StaffRole.ADMIN, False),
        "7001": (StaffRole.STAFF, False),
        "7002": (StaffRole.ADMIN, True),
    }


def test_an_unverified_email_is_not_kept_and_a_failed_lookup_changes_no_role(
    app: Flask, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    install_shop(app.test_client(), fake_shopify)
    fake_shopify.oauth.add_user(
        "7003", first_name="Una", last_name="Verified", email="una@example.com", email_verified=False
    )
    assert open_app(app.test_client(), fake_shopify, "7003").status_code == 303
    assert open_app(app.test_client(), fake_shopify, "7001").status_code == 303  # the owner
    fake_shopify.oauth.online_refused = 503  # Shopify cannot say who it is: signed in as we know them
    owner = app.test_client()
    assert open_app(owner, fake_shopify, "7001").status_code == 303
    assert owner.get("/settings").status_code == 200
    newcomer = app.test_client()
    assert open_app(newcomer, fake_shopify, "7004").status_code == 303
    assert newcomer.get("/settings").status_code == 403
    assert people(runtime) == [
        ("7003", StaffRole.STAFF, "Una Verified", None, False),
        ("7001", StaffRole.ADMIN, "Staff Member 7001", "staff-7001@example.com", True),
        ("7004", StaffRole.STAFF, None, None, False),
    ]


def test_opening_the_app_heals_a_shop_whose_refresh_was_refused(
    app: Flask, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    from sqlalchemy import update

    from integration.shops.models import Shop, TokenState

    install_shop(app.test_client(), fake_shopify)
    with runtime.session() as session:
        session.execute(update(Shop).values(token_state=TokenState.REFRESH_FAILED, token_error="invalid_grant"))
    before = shop_row(runtime)
    assert before is not None

    token = fake_shopify.oauth.session_token(SHOP_DOMAIN, "7001")
    response = app.test_client().get(f"/shopify/app?{urlencode({'shop': SHOP_DOMAIN, 'id_token': token})}")
    assert response.status_code == 303
    assert fake_shopify.oauth.calls["token_exchange"] == 1
    after = shop_row(runtime)
    assert after is not None
    assert (after.token_state, after.token_error) == (TokenState.OK, None)
    assert after.access_token_enc != before.access_token_enc and after.refresh_token_enc != before.refresh_token_enc

    # A healthy shop costs no exchange.
    app.test_client().get(f"/shopify/app?{urlencode({'shop': SHOP_DOMAIN, 'id_token': token})}")
    assert fake_shopify.oauth.calls["token_exchange"] == 1


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 60},
        {"aud": "another-app"},
        {"dest": "https://evil.com"},
        {"dest": "https://other-shop.myshopify.com", "iss": "https://other-shop.myshopify.com/admin"},
    ],
)
def test_expired_or_foreign_session_tokens_sign_nobody_in(
    app: Flask, fake_shopify: FakeShopify, runtime: Runtime, claims: dict[str, Any]
) -> None:
    install_shop(app.test_client(), fake_shopify)
    token = fake_shopify.oauth.session_token(SHOP_DOMAIN, **claims)
    client = app.test_client()
    response = client.get(f"/shopify/app?{urlencode({'shop': SHOP_DOMAIN, 'id_token': token})}")
    assert response.status_code in (401, 403)
    assert token not in response.get_data(as_text=True)
    assert staff_rows(runtime) == []


def test_forged_session_token_is_refused(app: Flask, fake_shopify: FakeShopify, runtime: Runtime) -> None:
    install_shop(app.test_client(), fake_shopify)
    fake_shopify.oauth.secret = "shpss_forger_forger_forger_forger"
    token = fake_shopify.oauth.session_token(SHOP_DOMAIN)
    response = app.test_client().get("/shopify/app", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert staff_rows(runtime) == []


def test_a_session_token_shopify_will_not_exchange_installs_nothing(app: Flask, fake_shopify: FakeShopify) -> None:
    fake_shopify.oauth.not_installed.add("never-installed.myshopify.com")
    token = fake_shopify.oauth.session_token("never-installed.myshopify.com")
    response = app.test_client().get("/shopify/app", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert token not in response.get_data(as_text=True)
    assert shop_row(runtime_of(app), "never-installed.myshopify.com") is None


# -- Shopify-managed install


def test_a_managed_install_finishes_on_the_first_open_without_a_redirect(
    app: Flask, fake_shopify: FakeShopify, runtime: Runtime, shopify_settings: Settings
) -> None:
    """Shopify installed the app itself (scopes in shopify.app.toml) and opens it for a shop we have
    never seen: the session token is exchanged for the shop's offline token, right here."""
    browser = app.test_client()
    response = open_app(browser, fake_shopify, "7001")
    assert response.status_code == 303 and response.headers["Location"] == "/settings", response.get_data()
    assert fake_shopify.oauth.authorize_requests == [] and fake_shopify.oauth.calls["authorization_code"] == 0
    assert fake_shopify.oauth.calls["token_exchange"] == 1
    exchange = next(r.body for r in fake_shopify.requests if r.path.endswith("/admin/oauth/access_token"))
    assert exchange["requested_token_type"] == "urn:shopify:params:oauth:token-type:offline-access-token"
    assert exchange["expiring"] == "1"
    shop = shop_row(runtime)
    assert shop is not None and shop.state == ShopState.ACTIVE and shop.token_state == TokenState.OK
    assert runtime.cipher.decrypt(shop.access_token_enc or "").startswith("shpat_")
    assert runtime.cipher.decrypt(shop.refresh_token_enc or "").startswith("shprt_")
    # The same steps as the callback's: subscriptions, shop facts, the backfill queued.
    assert {s["uri"] for s in fake_shopify.subscriptions(SHOP_DOMAIN)} == {
        f"{shopify_settings.public_url}/webhooks/shopify"
    }
    assert shop.subscriptions_checked_at is not None
    assert (shop.platform_time_zone, shop.time_zone, shop.currency) == ("America/New_York",) * 2 + ("USD",)
    assert runtime.queue("bulk").job_ids == [f"reconcile-{shop.id}"]
    # ... and the person who opened it (the owner) is signed in as the admin.
    assert browser.get("/settings").status_code == 200
    assert people(runtime) == [("7001", StaffRole.ADMIN, "Staff Member 7001", "staff-7001@example.com", True)]

    # Opening it again installs nothing more.
    assert open_app(app.test_client(), fake_shopify, "7001").status_code == 303
    assert fake_shopify.oauth.calls["token_exchange"] == 1


def test_a_managed_reinstall_brings_the_shop_back(app: Flask, fake_shopify: FakeShopify, runtime: Runtime) -> None:
    assert open_app(app.test_client(), fake_shopify, "7001").status_code == 303
    first = shop_row(runtime)
    assert first is not None
    with runtime.session() as session:
        session.execute(
            sa.update(Shop).values(state=ShopState.UNINSTALLED, access_token_enc=None, refresh_token_enc=None)
        )
    assert open_app(app.test_client(), fake_shopify, "7001").status_code == 303
    back = shop_row(runtime)
    assert back is not None and back.id == first.id and back.state == ShopState.ACTIVE
    assert back.access_token_enc is not None and fake_shopify.oauth.calls["token_exchange"] == 2


def test_two_first_opens_at_once_exchange_the_token_once(
    app: Flask, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    """Each exchange retires the previous refresh token, so racing first opens must not both exchange."""
    fake_shopify.oauth.token_delay = 0.4
    results: list[int] = []

    def first_open() -> None:
        results.append(open_app(app.test_client(), fake_shopify, "7001").status_code)

    threads = [threading.Thread(target=first_open) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [303, 303]
    assert fake_shopify.oauth.calls["token_exchange"] == 1
    shop = shop_row(runtime)
    assert shop is not None and shop.state == ShopState.ACTIVE


def test_a_persons_first_two_opens_at_once_make_one_staff_row(
    app: Flask, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    """Both requests look for the person, find nobody, and insert: the second must not fail (it did,
    with a unique violation, as a 500)."""
    install_shop(app.test_client(), fake_shopify)
    both_looked = threading.Barrier(2)

    def after_both_looked(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO STAFF_USERS"):
            both_looked.wait(timeout=10)

    engine = runtime_of(app).engine
    sa.event.listen(engine, "before_cursor_execute", after_both_looked)
    results: list[int] = []
    try:
        threads = [
            threading.Thread(
                target=lambda: results.append(open_app(app.test_client(), fake_shopify, "7001").status_code)
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        sa.event.remove(engine, "before_cursor_execute", after_both_looked)
    assert results == [303, 303]
    assert [(user, role) for user, role, *_rest in people(runtime)] == [("7001", StaffRole.ADMIN)]


def test_the_legacy_install_link_still_starts_the_code_grant(client: FlaskClient, fake_shopify: FakeShopify) -> None:
    assert start_install(client)["client_id"] == "test-api-key"
    assert fake_shopify.oauth.calls["token_exchange"] == 0


# -- uninstall and reinstall


def test_app_uninstalled_webhook_uninstalls_then_a_reinstall_brings_the_shop_back(
    app: Flask, client: FlaskClient, fake_shopify: FakeShopify, runtime: Runtime
) -> None:
    install_shop(client, fake_shopify)
    before = shop_row(runtime)
    assert before is not None
    update_shop(runtime, before.id, sender_name="Kept through reinstall")
    triggered = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    body = b'{"id": 1, "myshopify_domain": "demo-shop.myshopify.com"}'
    assert (
        post_shopify(client, body, topic="app/uninstalled", webhook_id="un-1", triggered_at=triggered).status_code
        == 200
    )
    fake_shopify.revoke(SHOP_DOMAIN)  # Shopify revokes the app's token as it uninstalls the app
    drain(runtime)
    gone = shop_row(runtime)
    assert gone is not None and gone.state == ShopState.UNINSTALLED
    assert gone.access_token_enc is None and gone.refresh_token_enc is None
    with runtime.session() as session:
        status = session.scalar(sa.select(WebhookEvent.status).where(WebhookEvent.webhook_id == "un-1"))
    assert status == "done"

    time.sleep(1.1)  # the reinstall is after the notice was sent
    install_shop(client, fake_shopify)
    back = shop_row(runtime)
    assert back is not None and back.id == before.id and back.state == ShopState.ACTIVE
    assert back.sender_name == "Kept through reinstall" and back.access_token_enc is not None

    # A late retry of the old uninstall notice does not remove the merchant who came back: Shopify
    # accepts the new token (asked twice, the second time after a retry interval).
    assert (
        post_shopify(client, body, topic="app/uninstalled", webhook_id="un-2", triggered_at=triggered).status_code
        == 200
    )
    with runtime.session() as session:
        event_id = session.scalar(sa.select(WebhookEvent.id).where(WebhookEvent.webhook_id == "un-2"))
    assert event_id is not None
    with pytest.raises(EventFailed):
        EventProcessor(runtime).process(event_id, retries_left=5)
    assert EventProcessor(runtime).process(event_id, retries_left=4) == Outcome.IGNORED
    still = shop_row(runtime)
    assert still is not None and still.state == ShopState.ACTIVE and still.access_token_enc is not None


# -- the whole install in a browser


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (Debian package chromium)")
def test_install_in_chromium_from_install_url_to_settings(
    shopify_settings: Settings, fake_shopify: FakeShopify
) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")

    server = LiveServer(shopify_settings)
    try:
        fake_shopify.oauth.app_url = server.url
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            try:
                page = browser.new_page()
                query = signed({"shop": SHOP_DOMAIN, "timestamp": now()})
                page.goto(f"{server.url}/shopify/install?{query}")
                page.wait_for_url(f"{server.url}/settings*", timeout=15000)
                assert urlsplit(page.url).path == "/settings"
            finally:
                browser.close()
    finally:
        server.stop()
    runtime = Runtime.from_settings(shopify_settings)
    try:
        shop = shop_row(runtime)
        assert shop is not None and shop.state == ShopState.ACTIVE
        assert staff_rows(runtime) == [(fake_shopify.oauth.user_id, StaffRole.ADMIN)]
    finally:
        runtime.close()
