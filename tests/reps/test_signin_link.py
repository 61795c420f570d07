"""Signing in to the workspace by an emailed link: once, for 15 minutes, only for the roster, and a form
that answers the same whatever the address."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from integration.core.runtime import Runtime
from integration.messaging.models import OutboxMessage
from integration.reps.models import Rep, RepState
from integration.shops.models import StaffRole
from tests.helpers import STORE_HASH, add_shop
from tests.reps.world import ask_for_link, csrf_from, new_rep, outbox_link, sign_in_rep
from tests.staff_fixtures import add_staff, sign_in


@pytest.fixture
def shop_id(app_runtime: Runtime) -> int:
    return add_shop(app_runtime).id


def outbox(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.session() as db:
        return list(db.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_rep_signs_in_once_with_the_emailed_link(client: FlaskClient, app_runtime: Runtime, shop_id: int) -> None:
    new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")
    assert client.get("/workspace").headers["Location"].endswith("/workspace/sign-in")

    assert ask_for_link(client, "Rita@Example.com ") == 200
    [message] = outbox(app_runtime)
    assert (message.template, message.recipient, message.shop_id) == ("signin_link", "rita@example.com", shop_id)
    assert "works once, within 15 minutes" in message.text_body
    link = outbox_link(app_runtime, "rita@example.com")
    assert message.text_body.count("http://127.0.0.1:8000/workspace/sign-in/") == 1  # PUBLIC_URL, not the Host

    # Opening the link spends nothing (mail scanners open links too); the button does.
    page = client.get(link)
    assert page.status_code == 200
    assert "Sign in as <strong>Rita Rep</strong>" in page.get_data(as_text=True)
    assert client.get(link).status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    done = client.post(link, data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"].endswith("/workspace")
    today = client.get("/workspace")
    assert today.status_code == 200
    assert "<h1>Today</h1>" in today.get_data(as_text=True)

    # Used: refused, by the page and by the button (in this browser or another).
    again = client.get(link)
    assert again.status_code == 400 and "used already" in again.get_data(as_text=True)
    other = client.application.test_client()
    fresh = csrf_from(other.get("/workspace/sign-in").get_data(as_text=True))
    reused = other.post(link, data={"csrf_token": fresh})
    assert reused.status_code == 400 and "used already" in reused.get_data(as_text=True)
    assert other.get("/workspace").status_code == 303


def test_the_form_answers_the_same_for_an_address_not_on_a_roster(
    client: FlaskClient, app_runtime: Runtime, shop_id: int
) -> None:
    new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")

    def answer(email: str) -> tuple[int, str]:
        form = client.get("/workspace/sign-in")
        response = client.post(
            "/workspace/sign-in", data={"email": email, "csrf_token": csrf_from(form.get_data(as_text=True))}
        )
        return response.status_code, response.get_data(as_text=True).replace(email, "ADDRESS")

    known, unknown = answer("rita@example.com"), answer("nobody@example.com")
    assert known == unknown
    assert known[0] == 200
    assert [m.recipient for m in outbox(app_runtime)] == ["rita@example.com"]


def test_a_link_expires_after_15_minutes(
    client: FlaskClient, app_runtime: Runtime, shop_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")
    real = time.time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real() - 15 * 60 - 5)
    assert ask_for_link(client, "rita@example.com") == 200
    monkeypatch.setattr("itsdangerous.timed.time.time", real)
    link = outbox_link(app_runtime, "rita@example.com")

    page = client.get(link)
    assert page.status_code == 400
    assert "expired" in page.get_data(as_text=True)
    token = csrf_from(client.get("/workspace/sign-in").get_data(as_text=True))
    assert client.post(link, data={"csrf_token": token}).status_code == 400
    assert client.get("/workspace").status_code == 303


@pytest.mark.parametrize("how", ["signature", "payload", "salt"])
def test_a_tampered_link_is_refused(client: FlaskClient, app_runtime: Runtime, shop_id: int, how: str) -> None:
    from itsdangerous import URLSafeTimedSerializer

    new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")
    assert ask_for_link(client, "rita@example.com") == 200
    link = outbox_link(app_runtime, "rita@example.com")
    if how == "signature":
        link = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    elif how == "payload":
        payload, _, rest = link.rpartition("/")[2].partition(".")
        link = f"/workspace/sign-in/{payload[:-2]}xx.{rest}"
    else:  # the right secret with another purpose's salt (the session cookie's, say)
        forged = URLSafeTimedSerializer("test-secret-key", salt="cookie-session").dumps({"r": 1, "e": "x", "j": "y"})
        link = f"/workspace/sign-in/{forged}"
    page = client.get(link)
    assert page.status_code == 400
    assert "not valid" in page.get_data(as_text=True)
    token = csrf_from(client.get("/workspace/sign-in").get_data(as_text=True))
    assert client.post(link, data={"csrf_token": token}).status_code == 400
    assert client.get("/workspace").status_code == 303


def test_a_rep_who_left_or_changed_address_cannot_use_an_old_link(
    client: FlaskClient, app_runtime: Runtime, shop_id: int
) -> None:
    rita = new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")
    assert ask_for_link(client, "rita@example.com") == 200
    link = outbox_link(app_runtime, "rita@example.com")
    with app_runtime.session() as db:
        db.execute(sa.update(Rep).where(Rep.id == rita).values(state=RepState.LEFT))
    assert client.get(link).status_code == 400
    assert ask_for_link(client, "rita@example.com") == 200
    assert len(outbox(app_runtime)) == 1  # no link for someone who left


def test_asking_is_rate_limited_per_address_the_same_for_every_address(
    client: FlaskClient, app_runtime: Runtime, shop_id: int
) -> None:
    new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")
    for email in ("rita@example.com", "nobody@example.com"):
        codes = [ask_for_link(client, email) for _ in range(6)]
        assert codes == [200] * 5 + [429]
    assert len(outbox(app_runtime)) == 5
    assert ask_for_link(client, "someone.else@example.com") == 200


def test_the_form_needs_its_csrf_token_and_an_address(client: FlaskClient, app_runtime: Runtime, shop_id: int) -> None:
    new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")
    client.get("/workspace/sign-in")
    assert client.post("/workspace/sign-in", data={"email": "rita@example.com"}).status_code == 400
    token = csrf_from(client.get("/workspace/sign-in").get_data(as_text=True))
    bad = client.post("/workspace/sign-in", data={"email": "rita", "csrf_token": token})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.get_data(as_text=True)
    assert outbox(app_runtime) == []


def test_a_rep_of_two_shops_gets_a_link_for_each(client: FlaskClient, app_runtime: Runtime, shop_id: int) -> None:
    other = add_shop(app_runtime, "bigcommerce", STORE_HASH, "bc-token").id
    new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")
    new_rep(app_runtime, other, "rita@example.com", "Rita Rep")
    assert ask_for_link(client, "rita@example.com") == 200
    assert sorted(m.shop_id for m in outbox(app_runtime)) == sorted([shop_id, other])


def test_staff_signed_in_from_the_platform_are_their_rep(
    client: FlaskClient, app_runtime: Runtime, shop_id: int
) -> None:
    new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")
    staff = add_staff(app_runtime, shop_id, "7", role=StaffRole.REP, name="Rita", email="RITA@example.com")
    stranger = add_staff(app_runtime, shop_id, "8", name="Sam", email="sam@example.com")
    sign_in(client, stranger)
    assert client.get("/workspace").status_code == 303  # staff, but not on the roster
    sign_in(client, staff)
    page = client.get("/workspace")
    assert page.status_code == 200
    assert "Rita Rep" in page.get_data(as_text=True)


def test_signing_out_ends_the_session(client: FlaskClient, app_runtime: Runtime, shop_id: int) -> None:
    new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")
    sign_in_rep(client, app_runtime, "rita@example.com")
    page = client.get("/workspace")
    out = client.post("/workspace/sign-out", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert out.status_code == 303
    assert client.get("/workspace").status_code == 303


def test_a_session_by_link_ends_12_hours_after_sign_in(client: FlaskClient, app_runtime: Runtime, shop_id: int) -> None:
    new_rep(app_runtime, shop_id, "rita@example.com", "Rita Rep")
    sign_in_rep(client, app_runtime, "rita@example.com")
    assert client.get("/workspace").status_code == 200
    with client.session_transaction() as session:
        assert abs(session["signed_in_at"] - time.time()) < 60
        session["signed_in_at"] -= 12 * 3600  # signed in 12 hours ago (the cookie itself is still valid)
    assert client.get("/workspace").status_code == 303
    with client.session_transaction() as session:
        assert "rep_id" not in session  # ended for good, not just refused
