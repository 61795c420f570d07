"""BigCommerce install and shop lifecycle over real HTTP: /bigcommerce/auth against a fake login service and
a fake store API, and the signed load, uninstall and remove-user callbacks."""

from __future__ import annotations

import json
import logging
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from flask import Flask, jsonify
from flask.testing import FlaskClient
from jwt.warnings import InsecureKeyLengthWarning
from werkzeug.test import TestResponse

from integration import runtime_of
from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.events.models import WebhookEvent
from integration.events.processing import EventFailed, EventProcessor, Outcome
from integration.platforms.bigcommerce.hooks import DELIVERY_EXCEPTION, TOKEN_HEADER
from integration.reps.roster import RepInput, add_rep
from integration.shops.lifecycle import STILL_INSTALLED_REASON
from integration.shops.models import Shop, ShopState, StaffRole, StaffUser
from integration.shops.registry import hash_webhook_token
from integration.shops.staff import current_staff
from tests.fakes.bigcommerce_api import FakeBigCommerce, load_fixture
from tests.fakes.bigcommerce_login import DEFAULT_SCOPE, FakeBigCommerceLogin
from tests.helpers import BC_TOKEN, BIGCOMMERCE_SECRET, STORE_HASH, add_customer, bigcommerce_body, drain

PUBLIC = "https://app.example.com"
CLIENT_ID = "test-client-id"  # the suite's settings
ACCESS_TOKEN = BC_TOKEN  # what the login service issues: the token fake_bc's store accepts
OWNER_ID = 24654
CLERK_ID = 5550001
CONTEXT = f"stores/{STORE_HASH}"
SCOPES = DEFAULT_SCOPE
DROP = object()
CALLBACKS = ("/bigcommerce/load", "/bigcommerce/uninstall", "/bigcommerce/remove-user")


@pytest.fixture(scope="module")
def login_server() -> Iterator[FakeBigCommerceLogin]:
    with FakeBigCommerceLogin() as fake:
        yield fake


@pytest.fixture
def fake_login(login_server: FakeBigCommerceLogin) -> FakeBigCommerceLogin:
    login_server.configure(CLIENT_ID, BIGCOMMERCE_SECRET, f"{PUBLIC}/bigcommerce/auth")
    return login_server


@pytest.fixture
def settings(settings: Settings, fake_bc: FakeBigCommerce, fake_login: FakeBigCommerceLogin) -> Settings:
    return settings.replace(
        public_url=PUBLIC, bigcommerce_api_url=fake_bc.url, bigcommerce_login_url=fake_login.url, log_level="DEBUG"
    )


@pytest.fixture
def app(app: Flask) -> Flask:
    def whoami() -> Any:
        found = current_staff()
        if found is None:
            return jsonify(staff=None)
        staff, shop = found
        return jsonify(staff=staff.platform_user_id, role=staff.role, email=staff.email, shop=shop.identifier)

    app.add_url_rule("/_whoami", view_func=whoami)  # before the app's first request
    return app


def whoami(client: FlaskClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/_whoami").get_json()
    return body


def install(client: FlaskClient, fake_login: FakeBigCommerceLogin, **code: Any) -> TestResponse:
    issued = fake_login.issue_code(STORE_HASH, code.pop("access_token", ACCESS_TOKEN), **code)
    return client.get(
        "/bigcommerce/auth",
        query_string={"code": issued, "scope": SCOPES, "context": CONTEXT, "account_uuid": str(uuid.uuid4())},
    )


def signed(
    *, secret: str = BIGCOMMERCE_SECRET, user_id: int = OWNER_ID, owner_id: int = OWNER_ID, **claims: Any
) -> str:
    """A signed_payload_jwt like BigCommerce's (the documented claims, made current and ours)."""
    payload: dict[str, Any] = load_fixture("bigcommerce_load_jwt_claims.json")
    now = int(time.time())
    payload.update(aud=CLIENT_ID, sub=CONTEXT, iat=now, nbf=now - 5, exp=now + 86400, jti=str(uuid.uuid4()))
    payload["user"].update(id=user_id, email=f"user-{user_id}@example.com")
    payload["owner"]["id"] = owner_id
    for name, value in claims.items():
        if value is DROP:
            payload.pop(name)
        else:
            payload[name] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the test secrets are short
        return jwt.encode(payload, secret, algorithm="HS256")


def callback(client: FlaskClient, path: str, token: str) -> TestResponse:
    return client.get(path, query_string={"signed_payload_jwt": token})


def shop_row(runtime: Runtime) -> Shop:
    with runtime.session() as session:
        shop = session.scalar(sa.select(Shop).where(Shop.platform == "bigcommerce", Shop.identifier == STORE_HASH))
        assert shop is not None
        session.expunge(shop)
        return shop


def error_of(response: TestResponse) -> str:
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, response.data
    return str(body["error"])


# ------------------------------------------------------------------------------------------- install


def test_install_stores_the_token_makes_the_hooks_and_signs_the_owner_in(
    client: FlaskClient, fake_login: FakeBigCommerceLogin, fake_bc: FakeBigCommerce, app_runtime: Runtime
) -> None:
    response = install(client, fake_login)
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings"
    assert "session=" in response.headers["Set-Cookie"]
    assert response.headers["Content-Security-Policy"] == "frame-ancestors https://store-abc123.mybigcommerce.com"
    assert response.headers["Referrer-Policy"] == "no-referrer"

    # The exchange sent what the docs list, with our registered redirect URI.
    [sent] = fake_login.exchanges
    assert sent["grant_type"] == "authorization_code"
    assert (sent["client_id"], sent["context"], sent["scope"]) == (CLIENT_ID, CONTEXT, SCOPES)
    assert sent["redirect_uri"] == f"{PUBLIC}/bigcommerce/auth"

    shop = shop_row(app_runtime)
    assert shop.state == ShopState.ACTIVE
    assert shop.access_token_enc and ACCESS_TOKEN not in shop.access_token_enc
    assert app_runtime.cipher.decrypt(shop.access_token_enc) == ACCESS_TOKEN
    assert shop.scopes == SCOPES

    hooks = fake_bc.hooks_of(STORE_HASH)
    assert {h["scope"] for h in hooks} >= {"store/order/created", "store/app/uninstalled", DELIVERY_EXCEPTION}
    assert all(h["is_active"] for h in hooks)
    # Each hook sends the shop's webhook token: the one whose hash the edge checks.
    assert {hash_webhook_token(h["headers"][TOKEN_HEADER]) for h in hooks} == {shop.webhook_token_hash}
    assert {h["destination"] for h in hooks} == {
        f"{PUBLIC}/webhooks/bigcommerce",
        f"{PUBLIC}/webhooks/bigcommerce/delivery-exception",
    }

    assert whoami(client) == {
        "staff": str(OWNER_ID),
        "role": StaffRole.ADMIN,
        "email": "merchant@example.com",
        "shop": STORE_HASH,
    }
    # The outcome is on the shop for ops, as the scheduled subscription check records it.
    assert shop.subscriptions_checked_at is not None
    assert len(json.loads(shop.subscriptions_report or "{}")["created"]) == len(hooks)
    # The backfill starts at once rather than at the next scheduled reconciliation.
    assert f"reconcile-{shop.id}" in app_runtime.queue("bulk").job_ids


def test_install_reads_the_stores_facts(
    client: FlaskClient, fake_login: FakeBigCommerceLogin, fake_bc: FakeBigCommerce, app_runtime: Runtime
) -> None:
    assert install(client, fake_login).status_code == 302
    shop = shop_row(app_runtime)
    # The documented /v2/store example: a store in Chicago selling in dollars.
    assert (shop.platform_time_zone, shop.time_zone, shop.time_zone_override) == ("America/Chicago",) * 2 + (None,)
    assert (shop.name, shop.currency, shop.primary_domain) == ("BigCommerce", "USD", "my-awesome.store")
    assert shop.owner_email == "jane.does@example.com" and shop.facts_read_at is not None
    assert len(fake_bc.requests_to(r"/v2/store$")) == 1


def test_when_the_owner_changes_the_old_owner_stops_being_admin(
    app: Flask, fake_login: FakeBigCommerceLogin, app_runtime: Runtime
) -> None:
    new_owner = 24655
    old = app.test_client()
    install(old, fake_login)  # by the owner, who is signed in as the admin
    assert old.get("/settings").status_code == 200
    shop_id = shop_row(app_runtime).id
    with app_runtime.session() as session:  # an admin the merchant chose, who does not own the store
        session.add(StaffUser(shop_id=shop_id, platform_user_id="777", role=StaffRole.ADMIN))
    clerk = app.test_client()
    # The store changed hands: every callback now names the new owner, whoever it is for.
    assert callback(clerk, "/bigcommerce/load", signed(user_id=CLERK_ID, owner_id=new_owner)).status_code == 302
    assert old.get("/settings").status_code == 403  # no longer the owner, so no longer the admin

    def roles() -> dict[str, tuple[str, bool]]:
        with app_runtime.session() as session:
            rows = session.execute(sa.select(StaffUser.platform_user_id, StaffUser.role, StaffUser.is_owner)).all()
        return {user: (role, owner) for user, role, owner in rows}

    assert roles() == {
        str(OWNER_ID): (StaffRole.STAFF, False),
        "777": (StaffRole.ADMIN, False),
        str(CLERK_ID): (StaffRole.STAFF, False),
    }
    assert callback(old, "/bigcommerce/load", signed(user_id=OWNER_ID, owner_id=new_owner)).status_code == 302
    assert old.get("/settings").status_code == 403
    owner = app.test_client()
    assert callback(owner, "/bigcommerce/load", signed(user_id=new_owner, owner_id=new_owner)).status_code == 302
    assert owner.get("/settings").status_code == 200
    assert roles()[str(new_owner)] == (StaffRole.ADMIN, True)
    assert roles()[str(OWNER_ID)] == (StaffRole.STAFF, False)


def test_a_second_install_creates_no_hooks_and_moves_them_to_the_new_token(
    client: FlaskClient, fake_login: FakeBigCommerceLogin, fake_bc: FakeBigCommerce, app_runtime: Runtime
) -> None:
    assert install(client, fake_login).status_code == 302
    first = fake_bc.hooks_of(STORE_HASH)
    old_hash = shop_row(app_runtime).webhook_token_hash
    fake_bc.set_hook(STORE_HASH, first[0]["id"], is_active=False)

    # BigCommerce sends a new auth when the app's scopes or the owner's email change: a new token.
    fake_bc.add_store(STORE_HASH, "bc-access-SECRET-0002")
    assert install(client, fake_login, access_token="bc-access-SECRET-0002").status_code == 302

    hooks = fake_bc.hooks_of(STORE_HASH)
    assert [h["id"] for h in hooks] == [h["id"] for h in first]
    assert sum(1 for r in fake_bc.requests_to(r"/v3/hooks$") if r.method == "POST") == len(first)
    shop = shop_row(app_runtime)
    assert shop.webhook_token_hash != old_hash
    assert {hash_webhook_token(h["headers"][TOKEN_HEADER]) for h in hooks} == {shop.webhook_token_hash}
    assert all(h["is_active"] for h in hooks)


def test_hooks_failing_does_not_undo_the_install(
    client: FlaskClient, fake_login: FakeBigCommerceLogin, fake_bc: FakeBigCommerce, app_runtime: Runtime
) -> None:
    fake_bc.queue_response("GET", r"/v3/hooks$", 500)
    assert install(client, fake_login).status_code == 302
    assert fake_bc.hooks_of(STORE_HASH) == []  # the subscription health check makes them later
    assert shop_row(app_runtime).state == ShopState.ACTIVE


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ({"scope": SCOPES, "context": CONTEXT}, 400, "code is missing"),
        ({"code": "c", "scope": SCOPES}, 400, "context is missing"),
        ({"code": "c", "scope": SCOPES, "context": "stores/"}, 400, "context must be"),
        ({"code": "c", "scope": SCOPES, "context": "users/abc123"}, 400, "context must be"),
        ({"code": "c", "context": CONTEXT}, 400, "scope is missing"),
        ({"code": "x" * 5000, "scope": SCOPES, "context": CONTEXT}, 400, "longer than"),
        ({"code": "never-issued", "scope": SCOPES, "context": CONTEXT}, 400, "refused the authorization code (400)"),
    ],
)
def test_bad_auth_requests(
    client: FlaskClient, fake_login: FakeBigCommerceLogin, query: dict[str, str], status: int, reason: str
) -> None:
    response = client.get("/bigcommerce/auth", query_string=query)
    assert response.status_code == status
    assert reason in error_of(response)


def test_a_code_is_used_once(client: FlaskClient, fake_login: FakeBigCommerceLogin) -> None:
    code = fake_login.issue_code(STORE_HASH, ACCESS_TOKEN)
    query = {"code": code, "scope": SCOPES, "context": CONTEXT}
    assert client.get("/bigcommerce/auth", query_string=query).status_code == 302
    again = client.get("/bigcommerce/auth", query_string=query)
    assert again.status_code == 400
    assert "expired or been used already" in error_of(again)


def test_a_code_for_another_store_is_refused(client: FlaskClient, fake_login: FakeBigCommerceLogin) -> None:
    code = fake_login.issue_code("zz9plural", ACCESS_TOKEN)
    response = client.get("/bigcommerce/auth", query_string={"code": code, "scope": SCOPES, "context": CONTEXT})
    assert response.status_code == 400  # the login service binds the code to its store


def test_an_answer_for_another_store_is_not_stored(
    client: FlaskClient, fake_login: FakeBigCommerceLogin, app_runtime: Runtime
) -> None:
    response = install(client, fake_login, answer_context="stores/zz9plural")
    assert response.status_code == 502
    assert "another store" in error_of(response)
    with app_runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Shop)) == 0


def test_login_service_failures_are_502(client: FlaskClient, fake_login: FakeBigCommerceLogin) -> None:
    fake_login.fail_with = 500
    response = install(client, fake_login)
    assert response.status_code == 502
    assert "answered 500" in error_of(response)


def test_login_service_down_is_502(app: Flask, settings: Settings, fake_login: FakeBigCommerceLogin) -> None:
    from integration import runtime_of

    runtime = runtime_of(app)
    runtime.settings = settings.replace(bigcommerce_login_url="http://127.0.0.1:9")
    response = install(app.test_client(), fake_login)
    assert response.status_code == 502
    assert "did not answer" in error_of(response)


def test_wrong_client_secret_is_a_clear_refusal(client: FlaskClient, fake_login: FakeBigCommerceLogin) -> None:
    fake_login.client_secret = "rotated-in-the-portal"
    response = install(client, fake_login)
    assert response.status_code == 400
    assert "(401)" in error_of(response)


def test_unconfigured_app_is_503(app: Flask, settings: Settings) -> None:
    from integration import runtime_of

    runtime_of(app).settings = settings.replace(bigcommerce_client_secret="")
    for path in ("/bigcommerce/auth", *CALLBACKS):
        response = app.test_client().get(path, query_string={"code": "c", "signed_payload_jwt": signed()})
        assert response.status_code == 503, path
        assert "BIGCOMMERCE_CLIENT_SECRET" in error_of(response)


# ----------------------------------------------------------------------------------------- callbacks


@pytest.mark.parametrize("path", CALLBACKS)
@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: signed(secret="not-our-secret"), "signature does not verify"),
        (lambda: signed(exp=int(time.time()) - 3600, iat=int(time.time()) - 90000), "expired"),
        (lambda: signed(nbf=int(time.time()) + 3600), "not valid yet"),
        (lambda: signed(aud="someone-elses-app"), "another app (aud)"),
        (lambda: signed(iss="not-bc"), "not issued by BigCommerce (iss)"),
        (lambda: signed(sub="stores/NOT-A-HASH!"), "sub must be"),
        (lambda: signed(sub="users/abc123"), "sub must be"),
        (lambda: signed(sub=DROP), "no sub claim"),
        (lambda: signed(exp=DROP), "no exp claim"),
        (lambda: "not.a.jwt", "not a valid HS256 token"),
        (
            lambda: jwt.encode({"sub": CONTEXT, "aud": CLIENT_ID, "iss": "bc"}, key=None, algorithm="none"),
            "not a valid HS256 token",
        ),
    ],
    ids=[
        "forged",
        "expired",
        "future",
        "aud",
        "iss",
        "sub-hash",
        "sub-prefix",
        "no-sub",
        "no-exp",
        "garbage",
        "alg-none",
    ],
)
def test_bad_callback_tokens_are_401(
    client: FlaskClient,
    fake_login: FakeBigCommerceLogin,
    app_runtime: Runtime,
    path: str,
    token: Any,
    reason: str,
) -> None:
    assert install(client, fake_login).status_code == 302
    response = callback(client, path, token())
    assert response.status_code == 401
    assert reason in error_of(response)
    assert shop_row(app_runtime).state == ShopState.ACTIVE  # nothing acted on


@pytest.mark.parametrize("path", CALLBACKS)
def test_callbacks_need_a_token_and_a_known_store(client: FlaskClient, path: str) -> None:
    missing = client.get(path)
    assert missing.status_code == 400
    assert error_of(missing) == "signed_payload_jwt is missing"
    legacy = client.get(path, query_string={"signed_payload": "eyJ1c2VyIjp7fX0=.abcd"})
    assert legacy.status_code == 400
    assert "legacy signed_payload" in error_of(legacy)
    unknown = callback(client, path, signed())
    assert unknown.status_code == 404
    assert "has not installed the app" in error_of(unknown)


def test_load_takes_a_rep_to_the_workspace_and_the_owner_to_the_settings(
    app: Flask, fake_login: FakeBigCommerceLogin, app_runtime: Runtime
) -> None:
    owner = app.test_client()
    install(owner, fake_login)
    shop_id = shop_row(app_runtime).id
    with app_runtime.session() as session:  # the clerk is on the roster by their email
        add_rep(session, shop_id, RepInput(name="Clerk", email=f"user-{CLERK_ID}@example.com", time_zone="UTC"))
    rep = app.test_client()
    response = callback(rep, "/bigcommerce/load", signed(user_id=CLERK_ID))
    assert response.status_code == 302 and response.headers["Location"] == "/workspace"
    today = rep.get("/workspace")
    assert today.status_code == 200 and "<h1>Today</h1>" in today.get_data(as_text=True)
    assert rep.get("/settings").status_code == 403
    response = callback(owner, "/bigcommerce/load", signed(user_id=OWNER_ID))
    assert response.headers["Location"] == "/settings"
    assert owner.get("/settings").status_code == 200


def test_clock_skew_is_tolerated(client: FlaskClient, fake_login: FakeBigCommerceLogin) -> None:
    install(client, fake_login)
    now = int(time.time())
    response = callback(client, "/bigcommerce/load", signed(iat=now + 30, nbf=now + 30))
    assert response.status_code == 302


def test_load_signs_the_user_in_and_redirects_to_settings(
    app: Flask, fake_login: FakeBigCommerceLogin, app_runtime: Runtime
) -> None:
    install(app.test_client(), fake_login)
    browser = app.test_client()
    assert whoami(browser) == {"staff": None}

    response = callback(browser, "/bigcommerce/load", signed(user_id=CLERK_ID))
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings"
    assert browser.get_cookie("session") is not None
    assert response.headers["Content-Security-Policy"] == "frame-ancestors https://store-abc123.mybigcommerce.com"
    assert whoami(browser) == {
        "staff": str(CLERK_ID),
        "role": StaffRole.STAFF,  # not the owner: staff until the merchant says otherwise
        "email": f"user-{CLERK_ID}@example.com",
        "shop": STORE_HASH,
    }

    owner = app.test_client()
    assert callback(owner, "/bigcommerce/load", signed()).status_code == 302
    assert whoami(owner)["role"] == StaffRole.ADMIN


def test_a_load_token_signs_in_once(app: Flask, fake_login: FakeBigCommerceLogin) -> None:
    install(app.test_client(), fake_login)
    token = signed()
    assert callback(app.test_client(), "/bigcommerce/load", token).status_code == 302
    replayed = app.test_client()
    response = callback(replayed, "/bigcommerce/load", token)
    assert response.status_code == 401
    assert "used already" in error_of(response)
    assert whoami(replayed) == {"staff": None}


def event_of(runtime: Runtime, event_id: int) -> tuple[str, str, str | None]:
    with runtime.session() as session:
        event = session.get(WebhookEvent, event_id)
        assert event is not None
        return event.topic, event.status, event.last_error


@pytest.mark.parametrize("path", ["/bigcommerce/uninstall", "/bigcommerce/remove-user"])
def test_an_uninstall_or_remove_user_notice_acts_once(
    app: Flask, fake_login: FakeBigCommerceLogin, app_runtime: Runtime, path: str
) -> None:
    # Valid for 24 h: a copy (from a log, a proxy) must not act again, before or after a reinstall.
    install(app.test_client(), fake_login)
    token = signed(user_id=CLERK_ID)
    assert callback(app.test_client(), path, token).status_code in (200, 202)
    replayed = callback(app.test_client(), path, token)
    assert replayed.status_code == 401
    assert "received already" in error_of(replayed)
    with app_runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == (path.endswith("uninstall"))


def test_a_token_spent_on_one_callback_is_spent_for_the_others(app: Flask, fake_login: FakeBigCommerceLogin) -> None:
    install(app.test_client(), fake_login)
    token = signed()  # what a staff member's browser receives to open the app
    assert callback(app.test_client(), "/bigcommerce/load", token).status_code == 302
    for path in ("/bigcommerce/uninstall", "/bigcommerce/remove-user"):
        response = callback(app.test_client(), path, token)
        assert response.status_code == 401, path


@pytest.mark.parametrize("path", ["/bigcommerce/uninstall", "/bigcommerce/remove-user"])
def test_a_notice_issued_before_the_last_install_is_ignored(
    app: Flask, fake_login: FakeBigCommerceLogin, fake_bc: FakeBigCommerce, app_runtime: Runtime, path: str
) -> None:
    install(app.test_client(), fake_login)
    clerk = app.test_client()
    callback(clerk, "/bigcommerce/load", signed(user_id=CLERK_ID))
    # Signed two hours ago, before this install, still within its 24 h; its jti never seen (Redis lost it).
    issued = int(time.time()) - 7200
    old = signed(user_id=CLERK_ID, iat=issued, nbf=issued, exp=issued + 86400)
    response = callback(app.test_client(), path, old)
    assert response.status_code == 409
    assert error_of(response) == "this notice was issued before the store's last install; ignored"
    shop = shop_row(app_runtime)
    assert shop.state == ShopState.ACTIVE and shop.access_token_enc is not None
    assert whoami(clerk)["staff"] == str(CLERK_ID)
    with app_runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0


def test_an_uninstall_notice_for_a_store_that_still_has_the_app_is_refused(
    app: Flask, fake_login: FakeBigCommerceLogin, app_runtime: Runtime
) -> None:
    # A genuine signed notice whose store still accepts our token (BigCommerce revokes it on uninstall):
    # not an uninstall. Checked once more after a retry interval (a notice may precede the revocation).
    install(app.test_client(), fake_login)
    response = callback(app.test_client(), "/bigcommerce/uninstall", signed(user_id=CLERK_ID))
    assert response.status_code == 202
    event_id = response.get_json()["event_id"]
    processor = EventProcessor(app_runtime)
    with pytest.raises(EventFailed):
        processor.process(event_id, retries_left=5)
    assert event_of(app_runtime, event_id)[1] == "received"  # to be asked again
    assert processor.process(event_id, retries_left=4) == Outcome.IGNORED
    assert event_of(app_runtime, event_id) == ("store/app/uninstalled", "ignored", STILL_INSTALLED_REASON)
    shop = shop_row(app_runtime)
    assert shop.state == ShopState.ACTIVE
    assert app_runtime.cipher.decrypt(shop.access_token_enc or "") == ACCESS_TOKEN


def test_uninstall_then_reinstall_keeps_the_data(
    app: Flask, fake_login: FakeBigCommerceLogin, fake_bc: FakeBigCommerce, app_runtime: Runtime
) -> None:
    browser = app.test_client()
    install(browser, fake_login)
    shop_id = shop_row(app_runtime).id
    add_customer(app_runtime, shop_id, email="kept@example.com")

    platform = app.test_client()
    fake_bc.revoke(STORE_HASH)  # BigCommerce revokes the app's token as it uninstalls the app
    response = callback(platform, "/bigcommerce/uninstall", signed())
    assert response.status_code == 202
    answer = response.get_json()
    assert answer == {"store_hash": STORE_HASH, "status": "confirming", "event_id": answer["event_id"]}
    assert shop_row(app_runtime).state == ShopState.ACTIVE  # not before BigCommerce confirms it
    drain(app_runtime)
    assert event_of(app_runtime, answer["event_id"]) == ("store/app/uninstalled", "done", None)
    again = callback(platform, "/bigcommerce/uninstall", signed())
    assert (again.status_code, again.get_json()) == (200, {"store_hash": STORE_HASH, "status": "already_uninstalled"})

    shop = shop_row(app_runtime)
    assert (shop.state, shop.access_token_enc, shop.webhook_token_enc) == (ShopState.UNINSTALLED, None, None)
    assert whoami(browser) == {"staff": None}  # the session ends with the install
    load = callback(app.test_client(), "/bigcommerce/load", signed())
    assert load.status_code == 404
    assert "uninstalled" in error_of(load)

    fake_bc.hooks.clear()  # BigCommerce deletes an app's hooks when it is uninstalled
    fake_bc.add_store(STORE_HASH, "bc-access-SECRET-0003")
    assert install(browser, fake_login, access_token="bc-access-SECRET-0003").status_code == 302
    shop = shop_row(app_runtime)
    assert (shop.id, shop.state) == (shop_id, ShopState.ACTIVE)
    assert app_runtime.cipher.decrypt(shop.access_token_enc or "") == "bc-access-SECRET-0003"
    with app_runtime.session() as session:
        assert session.scalar(sa.select(Customer.email).where(Customer.shop_id == shop_id)) == "kept@example.com"
    assert {hash_webhook_token(h["headers"][TOKEN_HEADER]) for h in fake_bc.hooks_of(STORE_HASH)} == {
        shop.webhook_token_hash
    }
    assert whoami(browser)["staff"] == str(OWNER_ID)


def test_remove_user(app: Flask, fake_login: FakeBigCommerceLogin, app_runtime: Runtime) -> None:
    install(app.test_client(), fake_login)
    clerk = app.test_client()
    callback(clerk, "/bigcommerce/load", signed(user_id=CLERK_ID))
    assert whoami(clerk)["staff"] == str(CLERK_ID)

    response = callback(app.test_client(), "/bigcommerce/remove-user", signed(user_id=CLERK_ID))
    assert response.status_code == 200
    assert response.get_json() == {"store_hash": STORE_HASH, "removed": True}
    assert callback(app.test_client(), "/bigcommerce/remove-user", signed(user_id=CLERK_ID)).get_json() == {
        "store_hash": STORE_HASH,
        "removed": False,
    }
    assert whoami(clerk) == {"staff": None}
    with app_runtime.session() as session:
        rows = session.execute(sa.select(StaffUser.platform_user_id, StaffUser.active)).all()
    assert sorted(rows) == [(str(OWNER_ID), True), (str(CLERK_ID), False)]

    # Added back at BigCommerce, they sign in again as before.
    callback(clerk, "/bigcommerce/load", signed(user_id=CLERK_ID))
    assert whoami(clerk)["staff"] == str(CLERK_ID)


def test_delivery_exceptions_reach_their_own_endpoint(
    client: FlaskClient, fake_login: FakeBigCommerceLogin, fake_bc: FakeBigCommerce, app_runtime: Runtime
) -> None:
    install(client, fake_login)
    [hook] = [h for h in fake_bc.hooks_of(STORE_HASH) if h["scope"] == DELIVERY_EXCEPTION]
    path = hook["destination"].removeprefix(PUBLIC)
    body = bigcommerce_body(DELIVERY_EXCEPTION, resource_id=1001, error_code=90001, message="retrying")
    response = client.post(path, data=body, headers={"Content-Type": "application/json", **hook["headers"]})
    assert response.status_code == 200
    wrong = client.post(path, data=body, headers={"Content-Type": "application/json", TOKEN_HEADER: "nope"})
    assert wrong.status_code == 401
    with app_runtime.session() as session:
        [event] = session.scalars(sa.select(WebhookEvent)).all()
    assert (event.shop, event.topic) == (STORE_HASH, DELIVERY_EXCEPTION)
    assert json.loads(event.body)["data"]["error_code"] == 90001


def test_codes_tokens_and_jwts_stay_out_of_the_logs(
    app: Flask, fake_login: FakeBigCommerceLogin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = fake_login.issue_code(STORE_HASH, ACCESS_TOKEN)
    browser = app.test_client()
    browser.get("/bigcommerce/auth", query_string={"code": code, "scope": SCOPES, "context": CONTEXT})
    browser.get("/bigcommerce/auth", query_string={"code": code, "scope": SCOPES, "context": CONTEXT})  # refused
    tokens = [signed(), signed(secret="forged"), signed(exp=int(time.time()) - 3600, iat=int(time.time()) - 90000)]
    for token in tokens:
        callback(browser, "/bigcommerce/load", token)
    callback(browser, "/bigcommerce/load", tokens[0])  # replayed
    callback(browser, "/bigcommerce/remove-user", signed(user_id=CLERK_ID))
    callback(browser, "/bigcommerce/uninstall", signed())
    assert caplog.records  # something was logged, and none of it is a secret
    secrets = [code, ACCESS_TOKEN, BIGCOMMERCE_SECRET, *tokens, *(t.split(".")[2] for t in tokens)]
    for secret in secrets:
        assert secret not in caplog.text
    # The store's owner email was read at install (personal data): stored, never logged.
    assert shop_row(runtime_of(app)).owner_email == "jane.does@example.com"
    assert "jane.does@example.com" not in caplog.text
