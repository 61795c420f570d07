"""The preference centre and one-click unsubscribe, over HTTP: GET changes nothing, POST /p saves with CSRF
and shows what changed, POST /u is RFC 8058 one-click (no cookie, no CSRF, 200, idempotent), bad links get
a friendly page (an expired one offers a fresh link by email: test_fresh_link)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.messaging import links
from integration.messaging.links import PREFERENCES, UNSUBSCRIBE, make_token, revoke
from integration.messaging.models import ConsentEntry, ConsentPush
from integration.reps.models import CheckInStatus
from integration.shops.models import Shop
from tests.helpers import add_shop
from tests.reps.conftest import World, utc


@pytest.fixture
def world(app_runtime: Runtime) -> World:
    shop = add_shop(app_runtime)
    with app_runtime.session() as session:
        session.execute(sa.update(Shop).where(Shop.id == shop.id).values(name="Fern & Co"))
    found = World(app_runtime, shop.id)
    found.rep("dana@fern.example")
    found.order(1001, email="ann@example.com", zone="Europe/London", now=utc(2027, 3, 1, 9))
    found.deliver(1001, utc(2027, 3, 4, 15), now=utc(2027, 3, 4, 15))
    return found


def token_for(runtime: Runtime, world: World, purpose: str) -> str:
    customer = world.customer()
    return make_token(runtime.settings, purpose, world.shop_id, customer.id, 0)


def ledger(runtime: Runtime) -> list[ConsentEntry]:
    with runtime.session() as session:
        return list(session.scalars(sa.select(ConsentEntry).order_by(ConsentEntry.id)))


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_preference_centre_shows_the_shop_and_rep_and_get_changes_nothing(
    client: FlaskClient, app_runtime: Runtime, world: World
) -> None:
    token = token_for(app_runtime, world, PREFERENCES)
    response = client.get(f"/p/{token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        "Fern &amp; Co" in page
        and "Dana is your contact" in page
        and '<span class="avatar" aria-hidden="true">D</span>' in page
    )
    assert 'id="calls" name="calls" value="on" checked' in page  # calls on: nobody said no
    assert (
        response.headers["Referrer-Policy"] == "no-referrer"
        and "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    )
    assert ledger(app_runtime) == []


def test_saving_records_each_change_in_the_ledger_and_no_calls_cancels_the_open_check_in(
    client: FlaskClient, app_runtime: Runtime, world: World
) -> None:
    assert world.only_checkin().status in (CheckInStatus.SCHEDULED, CheckInStatus.DUE)
    token = token_for(app_runtime, world, PREFERENCES)
    page = client.get(f"/p/{token}").get_data(as_text=True)

    refused = client.post(f"/p/{token}", data={"email": "on", "frequency": "monthly"})  # no CSRF token
    assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)
    assert ledger(app_runtime) == []

    # A UK address: email stays off until they say yes, so leaving it unticked changes nothing.
    assert 'id="email" name="email" value="on">' in page
    response = client.post(f"/p/{token}", data={"csrf_token": csrf(page), "frequency": "monthly", "pause": "none"})
    saved = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Calls from Dana: no" in saved and "How often: At most once a month" in saved
    entries = ledger(app_runtime)
    assert [(e.topic, e.value, e.previous, e.actor, e.method, e.wording_version) for e in entries] == [
        ("calls", "unsubscribed", None, "customer", "page", "preferences-2026-12"),
        ("frequency", "monthly", None, "customer", "page", "preferences-2026-12"),
    ]
    assert world.only_checkin().status == CheckInStatus.CANCELLED
    assert world.customer().call_consent == "unsubscribed"
    # saving the same choices again changes nothing
    again = client.post(f"/p/{token}", data={"csrf_token": csrf(saved), "frequency": "monthly"})
    assert "Nothing changed." in again.get_data(as_text=True) and len(ledger(app_runtime)) == 2


@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_one_click_unsubscribe_as_a_mail_provider_posts_it(
    app: Flask, app_runtime: Runtime, world: World, encoding: str
) -> None:
    token = token_for(app_runtime, world, UNSUBSCRIBE)
    provider = app.test_client(use_cookies=False)
    kwargs = {"content_type": "multipart/form-data"} if encoding == "multipart" else {}
    for _ in range(2):  # a repeat is answered the same and changes nothing
        response = provider.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}, **kwargs)
        assert response.status_code == 200
        assert "Location" not in response.headers and "Set-Cookie" not in response.headers
        assert "You are unsubscribed" in response.get_data(as_text=True)
    [entry] = ledger(app_runtime)
    assert (entry.topic, entry.value, entry.method, entry.actor) == ("email", "unsubscribed", "one_click", "customer")
    assert world.customer().email_consent == "unsubscribed"
    with app_runtime.session() as session:
        assert session.scalars(sa.select(ConsentPush.state)).all() == ["queued"]  # pushed to the platform by a job


def test_get_on_the_unsubscribe_link_only_asks(client: FlaskClient, app_runtime: Runtime, world: World) -> None:
    token = token_for(app_runtime, world, UNSUBSCRIBE)
    response = client.get(f"/u/{token}")
    assert response.status_code == 200
    assert 'name="List-Unsubscribe" value="One-Click"' in response.get_data(as_text=True)
    assert ledger(app_runtime) == [] and world.customer().email_consent is None


def test_links_are_not_interchangeable_and_bad_ones_get_a_friendly_page(
    client: FlaskClient, app_runtime: Runtime, world: World
) -> None:
    preference_token = token_for(app_runtime, world, PREFERENCES)
    for response in (
        client.post(f"/u/{preference_token}", data={"List-Unsubscribe": "One-Click"}),
        client.get("/p/not-a-token"),
        client.get(f"/p/{preference_token[:-3]}"),
        client.post("/u/garbage", data={"List-Unsubscribe": "One-Click"}),
    ):
        assert response.status_code == 400
        assert "This link is not valid" in response.get_data(as_text=True)
    assert ledger(app_runtime) == []


def test_an_expired_link_offers_a_fresh_one_by_email_and_a_revoked_one_does_not(
    client: FlaskClient, app_runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = token_for(app_runtime, world, PREFERENCES)
    monkeypatch.setattr(links, "MAX_AGE", -1)  # every link is now past its age
    expired = client.get(f"/p/{token}")
    page = expired.get_data(as_text=True)
    assert expired.status_code == 410 and "This link has expired" in page and "Email me a fresh link" in page
    assert "a***@example.com" in page and "ann@example.com" not in page

    with app_runtime.session() as session:
        revoke(session, world.shop_id, world.customer().id)
    # Revoking is deliberate: an old link, expired or not, does not bring a new one.
    for age in (-1, links.MAX_AGE):
        monkeypatch.setattr(links, "MAX_AGE", age)
        response = client.get(f"/p/{token}")
        page = response.get_data(as_text=True)
        assert response.status_code == 410 and "a newer one was sent" in page and "Email me a fresh link" not in page


def test_a_deleted_customer_link_is_friendly_too(client: FlaskClient, app_runtime: Runtime, world: World) -> None:
    token = token_for(app_runtime, world, PREFERENCES)
    with app_runtime.session() as session:
        session.execute(sa.update(Customer).values(deleted_at=utc(2027, 3, 5)))
    response = client.get(f"/p/{token}")
    assert response.status_code == 400 and "This link is not valid" in response.get_data(as_text=True)
