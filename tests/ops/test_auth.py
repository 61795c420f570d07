"""Ops sign-in: accounts, Argon2, rate limits, absolute sessions, sign-out, CSRF, every URL refused."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, Worker

from integration import runtime_of
from integration.core.health import beat_scheduler
from integration.core.sessions import SESSION_LIFETIME
from integration.ops.auth import COOKIE, SESSION_KEY, _digest
from integration.ops.models import OpsUser
from tests.helpers import invoke
from tests.ops.conftest import OPS_EMAIL, OPS_PASSWORD, csrf_from, sign_in
from tests.staff_fixtures import People
from tests.staff_fixtures import sign_in as staff_sign_in


def client_from(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


OPS_PAGES = ["/ops", "/ops/", "/ops/events", "/ops/events/1", "/ops/failed", "/ops/shops", "/ops/outbox", "/ops/rq/"]
OPS_POSTS = [
    "/ops/events/1/replay",
    "/ops/events/1/reveal",
    "/ops/events/replay",
    "/ops/failed/x/requeue",
    "/ops/failed/requeue-all",
    "/ops/shops/1/reconcile",
    "/ops/shops/1/subscriptions",
    "/ops/rq/job/x/requeue",
    "/ops/rq/requeue/events",
]


def test_create_user_reads_the_password_from_stdin_and_hashes_it_with_argon2(app: Flask) -> None:
    with app.app_context():
        result = app.test_cli_runner().invoke(
            args=["ops", "create-user", "OnCall@Example.org", "--password-stdin"], input=OPS_PASSWORD + "\n"
        )
    assert result.exit_code == 0, result.output
    with runtime_of(app).session() as db:
        user = db.scalars(sa.select(OpsUser)).one()
        assert user.email == OPS_EMAIL
        assert user.password_hash.startswith("$argon2id$")
        assert OPS_PASSWORD not in user.password_hash
    listed = invoke(app, "ops", "users", "list")
    assert OPS_EMAIL in listed.output
    again = invoke(app, "ops", "delete-user", OPS_EMAIL)
    assert again.exit_code == 0
    assert "no ops users" in invoke(app, "ops", "users", "list").output
    assert invoke(app, "ops", "delete-user", OPS_EMAIL).exit_code == 1


def test_create_user_prompts_twice_and_refuses_a_short_password(app: Flask) -> None:
    with app.app_context():
        short = app.test_cli_runner().invoke(args=["ops", "create-user", OPS_EMAIL], input="short\nshort\n")
        good = app.test_cli_runner().invoke(
            args=["ops", "create-user", OPS_EMAIL], input=f"{OPS_PASSWORD}\n{OPS_PASSWORD}\n"
        )
        twice = app.test_cli_runner().invoke(
            args=["ops", "create-user", OPS_EMAIL, "--password-stdin"], input=OPS_PASSWORD
        )
    assert short.exit_code == 1 and "at least 12" in short.output
    assert good.exit_code == 0, good.output
    assert twice.exit_code == 1 and "exists already" in twice.output


@pytest.mark.parametrize("path", OPS_PAGES)
def test_every_ops_page_sends_a_visitor_to_sign_in(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/ops/login?next=")


@pytest.mark.parametrize("path", OPS_POSTS)
def test_every_ops_action_is_401_without_a_session(client: FlaskClient, path: str) -> None:
    assert client.post(path).status_code == 401


def test_sign_in_then_pages_then_sign_out(client: FlaskClient, ops_user: int) -> None:
    response = client.get("/ops/events")
    login = client.get(response.headers["Location"])
    page = login.get_data(as_text=True)
    assert 'name="next" value="/ops/events"' in page
    signed = client.post(
        "/ops/login",
        data={"email": OPS_EMAIL, "password": OPS_PASSWORD, "csrf_token": csrf_from(page), "next": "/ops/events"},
    )
    assert signed.status_code == 303 and signed.headers["Location"] == "/ops/events"
    cookie = signed.headers.getlist("Set-Cookie")
    ops_cookie = next(c for c in cookie if c.startswith(COOKIE + "="))
    assert "HttpOnly" in ops_cookie and "SameSite=Strict" in ops_cookie
    for path in OPS_PAGES[:-2]:
        assert client.get(path).status_code in (200, 308, 404), path
    assert client.get("/ops/rq/").status_code == 200
    token = csrf_from(client.get("/ops").get_data(as_text=True))
    out = client.post("/ops/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert client.get("/ops").status_code == 303


def test_a_cookie_kept_after_sign_out_opens_nothing(app: Flask, ops_client: FlaskClient) -> None:
    kept = ops_client.get_cookie(COOKIE)
    assert kept is not None
    token = csrf_from(ops_client.get("/ops").get_data(as_text=True))
    ops_client.post("/ops/logout", data={"csrf_token": token})
    other = app.test_client()
    other.set_cookie(COOKIE, kept.value)
    assert other.get("/ops").status_code == 303


def test_wrong_password_and_unknown_address_get_the_same_answer(client: FlaskClient, ops_user: int) -> None:
    wrong = sign_in(client, password="not the password at all")
    unknown = sign_in(client, email="nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401  # type: ignore[attr-defined]
    assert "do not match" in wrong.get_data(as_text=True)  # type: ignore[attr-defined]
    assert client.get("/ops").status_code == 303


def test_sign_in_needs_the_csrf_token(client: FlaskClient, ops_user: int) -> None:
    client.get("/ops/login")
    response = client.post("/ops/login", data={"email": OPS_EMAIL, "password": OPS_PASSWORD})
    assert response.status_code == 400
    assert client.get("/ops").status_code == 303


def test_actions_need_the_csrf_token(ops_client: FlaskClient) -> None:
    assert ops_client.post("/ops/failed/requeue-all").status_code == 400
    assert ops_client.post("/ops/logout").status_code == 400


def test_failed_sign_ins_are_limited_per_account(app: Flask, ops_user: int) -> None:
    for i in range(10):
        client = client_from(app, f"10.0.0.{i + 1}")
        assert sign_in(client, password=f"wrong password {i}").status_code == 401  # type: ignore[attr-defined]
    client = client_from(app, "10.0.1.1")
    # The right password too, once the account is limited: the limit is the account's, not the guess's.
    assert sign_in(client).status_code == 429  # type: ignore[attr-defined]
    other = client_from(app, "10.0.1.1")
    assert sign_in(other, email="someone@example.org").status_code == 401  # type: ignore[attr-defined]


def test_failed_sign_ins_are_limited_per_address(app: Flask, ops_user: int) -> None:
    client = client_from(app, "10.9.9.9")
    for i in range(20):
        assert sign_in(client, email=f"guess{i}@example.org").status_code == 401  # type: ignore[attr-defined]
    assert sign_in(client).status_code == 429  # type: ignore[attr-defined]
    elsewhere = client_from(app, "10.9.9.10")
    assert sign_in(elsewhere).status_code == 303  # type: ignore[attr-defined]


def test_successful_sign_ins_are_not_counted(app: Flask, ops_user: int) -> None:
    for _ in range(12):
        assert sign_in(client_from(app, "10.8.8.8")).status_code == 303  # type: ignore[attr-defined]


def test_the_session_ends_twelve_hours_after_sign_in_however_busy(app: Flask, ops_client: FlaskClient) -> None:
    token = ops_client.get_cookie(COOKIE)
    assert token is not None
    redis = runtime_of(app).redis
    key = SESSION_KEY.format(digest=_digest(token.value))
    assert 0 < redis.ttl(key) <= SESSION_LIFETIME
    ops_client.get("/ops/events")
    assert redis.ttl(key) <= SESSION_LIFETIME  # never extended
    user_id, _, _ = redis.get(key).decode().partition(":")
    redis.set(key, f"{user_id}:{int(time.time()) - SESSION_LIFETIME - 1}")
    assert ops_client.get("/ops").status_code == 303


def test_a_deleted_account_is_signed_out(app: Flask, ops_client: FlaskClient) -> None:
    assert ops_client.get("/ops").status_code == 200
    invoke(app, "ops", "delete-user", OPS_EMAIL)
    assert ops_client.get("/ops").status_code == 303


def test_a_staff_session_is_not_an_ops_session(client: FlaskClient, people: People) -> None:
    staff_sign_in(client, people.admin)
    assert client.get("/settings").status_code == 200
    assert client.get("/ops").status_code == 303


def test_next_never_leaves_the_console(client: FlaskClient, ops_user: int) -> None:
    page = client.get("/ops/login").get_data(as_text=True)
    for target in ("https://evil.example/", "//evil.example/ops", "/settings"):
        response = client.post(
            "/ops/login",
            data={"email": OPS_EMAIL, "password": OPS_PASSWORD, "csrf_token": csrf_from(page), "next": target},
        )
        assert response.headers["Location"] == "/ops"


def test_the_front_door_says_what_this_is_and_nothing_about_shops(app: Flask, client: FlaskClient) -> None:
    from tests.helpers import add_shop

    add_shop(runtime_of(app))
    not_ready = client.get("/").get_data(as_text=True)
    assert 'data-ready="no"' in not_ready and "scheduler not running" in not_ready
    redis = runtime_of(app).redis
    worker = Worker([Queue("events", connection=redis)], connection=redis)
    worker.register_birth()
    worker.heartbeat()
    beat_scheduler(redis)
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Personal Commerce" in page and 'href="/ops"' in page and "/workspace/sign-in" in page
    assert 'data-ready="yes"' in page
    assert "myshopify.com" not in page
    assert response.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")


def test_rq_dashboard_refuses_cross_site_changes(app: Flask, ops_client: FlaskClient) -> None:
    # rq-dashboard posts without a CSRF token: a change must come from this site.
    job = runtime_of(app).queue("bulk").enqueue("tests.ops.jobs.explode", "x")
    delete = f"/ops/rq/job/{job.id}/delete"
    assert ops_client.post(delete, headers={"Origin": "https://evil.example"}).status_code == 403
    assert ops_client.post(delete, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert ops_client.get("/ops/rq/requeue/events").status_code == 405  # a GET that would change things
    assert runtime_of(app).queue("bulk").count == 1
    same = ops_client.post(delete, headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200
    assert runtime_of(app).queue("bulk").count == 0
