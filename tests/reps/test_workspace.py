"""The rep workspace: Today, a check-in with its outcome form, My customers and a customer; each rep sees
only their own book and tasks, and nobody sees another shop's."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.customers.models import Customer, TimelineEntry
from integration.reps.models import CheckIn, CheckInAttempt, CheckInSettings, Rep
from integration.reps.roster import send_away
from tests.helpers import STORE_HASH, add_shop
from tests.reps.world import (
    Bought,
    ShopWorld,
    csrf_from,
    new_checkin,
    new_customer,
    new_order,
    populate,
    sign_in_rep,
)


@pytest.fixture
def world(app_runtime: Runtime) -> ShopWorld:
    return populate(app_runtime, add_shop(app_runtime).id)


@pytest.fixture
def elsewhere(app_runtime: Runtime) -> ShopWorld:
    """Another shop, whose rep has the same address as ours (people work for two shops)."""
    return populate(app_runtime, add_shop(app_runtime, "bigcommerce", STORE_HASH, "bc").id, prefix="x")


@pytest.fixture
def rita(client: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> FlaskClient:
    sign_in_rep(client, app_runtime, "rita@example.com")
    return client


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_today_lists_the_reps_due_calls_with_what_the_call_needs(
    rita: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    with app_runtime.session() as db:
        db.add(
            CheckInAttempt(
                checkin_id=new_checkin(
                    app_runtime, world.shop_id, world.customers["ada"], world.reps["rita"], [], status="done"
                ),
                rep_id=world.reps["rita"],
                at=utcnow() - dt.timedelta(days=40),
                outcome="reached",
                notes="Loves the green scarf",
            )
        )
        db.execute(sa.update(Customer).where(Customer.id == world.customers["lou"]).values(call_consent="unsubscribed"))
    page = rita.get("/workspace")
    assert page.status_code == 200
    html = text(page)
    # Only Rita's: the customers furthest into their own day first (Tokyo, London, Los Angeles).
    names = re.findall(r'<h2 id="task-\d+-name"><a [^>]+>([^<]+)</a>', html)
    assert names == ["Kim Tokyo", "Ada Lovelace", "Lou Angeles"]
    assert "Bob" not in html
    assert "Tokyo, JP" in html and "Los Angeles, US" in html
    assert "JST" in html  # Kim's time now
    assert "1 \u00d7 Linen shirt" in html and "2 \u00d7 Wool scarf" in html
    assert "Delivered " in html
    assert "Loves the green scarf" in html  # the last call's notes
    assert ">VIP<" in html and ">Returning<" in html
    assert html.count(">Do not call<") == 1
    assert "Past purchases" in html


def test_today_holds_what_is_due_by_the_end_of_the_reps_day(
    rita: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    now = utcnow()
    with app_runtime.session() as db:
        db.execute(sa.delete(CheckIn))
    tomorrow = new_customer(app_runtime, world.shop_id, "Tom", "Morrow", rep_id=world.reps["rita"])
    overdue = new_customer(app_runtime, world.shop_id, "Otto", "Late", rep_id=world.reps["rita"])
    done = new_customer(app_runtime, world.shop_id, "Dora", "Done", rep_id=world.reps["rita"])
    new_checkin(
        app_runtime,
        world.shop_id,
        tomorrow,
        world.reps["rita"],
        [],
        status="scheduled",
        due_at=now + dt.timedelta(days=2),
    )
    new_checkin(
        app_runtime,
        world.shop_id,
        overdue,
        world.reps["rita"],
        [],
        status="scheduled",
        due_at=now - dt.timedelta(days=3),
    )
    new_checkin(
        app_runtime, world.shop_id, done, world.reps["rita"], [], status="done", due_at=now - dt.timedelta(hours=2)
    )
    html = text(rita.get("/workspace"))
    assert "Otto Late" in html and "Overdue since" in html
    assert "Tom Morrow" not in html and "Dora Done" not in html


def test_a_checkin_shows_the_script_the_customer_and_the_form(
    rita: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    page = rita.get(f"/workspace/checkins/{world.checkins['ada']}")
    assert page.status_code == 200
    html = text(page)
    for question in (
        "Is it living up to your expectations?",
        "Any questions?",
        "What would you improve?",
        "Would you recommend us?",
    ):
        assert question in html
    assert "Call Ada Lovelace" in html and "London, GB" in html
    assert '<option value="p-shirt">Linen shirt</option>' in html
    for outcome in ("reached", "voicemail", "no_answer", "wrong_number", "declined"):
        assert f'value="{outcome}"' in html
    assert 'name="csrf_token"' in html

    with app_runtime.session() as db:
        db.add(CheckInSettings(shop_id=world.shop_id, call_script="How is the shirt?\n\nShall we call again?"))
    html = text(rita.get(f"/workspace/checkins/{world.checkins['ada']}"))
    assert "How is the shirt?" in html and "Any questions?" not in html


def test_an_outcome_is_saved_and_lands_on_the_timeline(
    rita: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    url = f"/workspace/checkins/{world.checkins['ada']}"
    token = csrf_from(text(rita.get(url)))
    follow_up = (utcnow() + dt.timedelta(days=10)).date().isoformat()
    saved = rita.post(
        url,
        data={
            "csrf_token": token,
            "outcome": "reached",
            "notes": "Happy with the shirt; scarf runs short",
            "recommend": "9",
            "improve": "Longer scarves",
            "improve_product_id": "p-scarf",
            "follow_up_at": follow_up,
            "follow_up_note": "Ask about the winter range",
        },
    )
    assert saved.status_code == 303, text(saved)
    assert saved.headers["Location"].endswith("/workspace")
    with app_runtime.session() as db:
        attempt = db.scalars(sa.select(CheckInAttempt).where(CheckInAttempt.checkin_id == world.checkins["ada"])).one()
        assert (attempt.outcome, attempt.recommend, attempt.improve, attempt.improve_product_id) == (
            "reached",
            9,
            "Longer scarves",
            "p-scarf",
        )
        assert attempt.rep_id == world.reps["rita"]
    today = text(rita.get("/workspace"))
    assert "Call with Ada Lovelace saved." in today
    customer = text(rita.get(f"/workspace/customers/{world.customers['ada']}"))
    assert "Happy with the shirt; scarf runs short" in customer
    assert "would recommend: 9/10" in customer
    with app_runtime.session() as db:
        kinds = set(
            db.scalars(sa.select(TimelineEntry.kind).where(TimelineEntry.customer_id == world.customers["ada"]))
        )
    assert len(kinds) >= 2  # the order and the call


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "outcome", "Choose how the call went."),
        ({"outcome": "shouted"}, "outcome", "Choose how the call went."),
        ({"outcome": "voicemail", "recommend": "8"}, "recommend", "A score needs a conversation"),
        ({"outcome": "reached", "recommend": "11"}, "recommend", "Choose a score from 0 to 10."),
        ({"outcome": "reached", "follow_up_note": "later"}, "follow_up_at", "Choose a date for the follow-up"),
        ({"outcome": "reached", "follow_up_at": "2001-01-01"}, "follow_up_at", "The follow-up date is in the past."),
        ({"outcome": "reached", "improve_product_id": "p-other"}, "improve_product_id", "Choose one of the products"),
        ({"outcome": "reached", "notes": "x" * 5001}, "notes", "Keep the notes to 5000 characters or fewer."),
    ],
)
def test_invalid_outcomes_are_shown_again_with_a_message_per_field(
    rita: FlaskClient, app_runtime: Runtime, world: ShopWorld, data: dict[str, str], field: str, message: str
) -> None:
    url = f"/workspace/checkins/{world.checkins['ada']}"
    token = csrf_from(text(rita.get(url)))
    again = rita.post(url, data={"csrf_token": token, **data})
    assert again.status_code == 422
    html = text(again)
    assert message in html
    if field in ("outcome", "recommend"):
        assert f'id="{field}-error"' in html
    else:
        assert f'id="{field}-error"' in html and 'aria-invalid="true"' in html
    with app_runtime.session() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(CheckInAttempt)) == 0


def test_the_outcome_form_needs_its_csrf_token(rita: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    response = rita.post(f"/workspace/checkins/{world.checkins['ada']}", data={"outcome": "reached"})
    assert response.status_code == 400
    with app_runtime.session() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(CheckInAttempt)) == 0


def test_a_closed_call_takes_no_second_outcome(rita: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    url = f"/workspace/checkins/{world.checkins['ada']}"
    token = csrf_from(text(rita.get(url)))
    with app_runtime.session() as db:
        db.execute(sa.update(CheckIn).where(CheckIn.id == world.checkins["ada"]).values(status="done"))
    page = rita.get(url)
    assert page.status_code == 200 and "This call is closed" in text(page)
    assert rita.post(url, data={"csrf_token": token, "outcome": "reached"}).status_code == 409


def test_a_rep_sees_only_their_own_book_and_tasks(
    rita: FlaskClient, app_runtime: Runtime, world: ShopWorld, elsewhere: ShopWorld
) -> None:
    token = csrf_from(text(rita.get("/workspace")))
    for other in (world, elsewhere):
        key = "bob" if other is world else "ada"
        assert rita.get(f"/workspace/checkins/{other.checkins[key]}").status_code == 404
        assert rita.get(f"/workspace/customers/{other.customers[key]}").status_code == 404
        denied = rita.post(
            f"/workspace/checkins/{other.checkins[key]}", data={"csrf_token": token, "outcome": "reached"}
        )
        assert denied.status_code == 404
    assert rita.get(f"/workspace/customers/{world.customers['ada']}").status_code == 200
    book = text(rita.get("/workspace/customers"))
    assert "Ada Lovelace" in book and "Bob" not in book and "xAda" not in book
    with app_runtime.session() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(CheckInAttempt)) == 0


def test_the_backup_works_the_calls_of_an_away_rep(client: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    with app_runtime.session() as db:
        rob, rita = db.get_one(Rep, world.reps["rob"]), db.get_one(Rep, world.reps["rita"])
        send_away(
            db, rob, (utcnow() + dt.timedelta(days=7)).date(), rita, today=(utcnow() - dt.timedelta(days=1)).date()
        )
    sign_in_rep(client, app_runtime, "rita@example.com")
    assert "Bob Brooklyn" in text(client.get("/workspace"))
    assert client.get(f"/workspace/checkins/{world.checkins['bob']}").status_code == 200
    assert client.get(f"/workspace/customers/{world.customers['bob']}").status_code == 200
    assert "Bob Brooklyn" not in text(client.get("/workspace/customers"))  # not in her book

    robs = client.application.test_client()
    sign_in_rep(robs, app_runtime, "rob@example.com")
    assert "Bob Brooklyn" not in text(robs.get("/workspace"))  # away: his calls are Rita's
    assert robs.get(f"/workspace/customers/{world.customers['bob']}").status_code == 200  # still his book


def test_my_customers_searches_by_name_email_and_order_number(
    rita: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    order = new_order(app_runtime, world.shop_id, world.customers["kim"], [Bought("Hat")], name="#77123")
    assert order
    html = text(rita.get("/workspace/customers"))
    assert all(name in html for name in ("Ada Lovelace", "Kim Tokyo", "Lou Angeles"))
    assert "3 of 150 places" in html
    for query, expected in (
        ("lovelace", "Ada Lovelace"),
        ("LOU.ANGELES@", "Lou Angeles"),
        ("#77123", "Kim Tokyo"),
        ("77123", "Kim Tokyo"),
    ):
        found = text(rita.get("/workspace/customers", query_string={"q": query}))
        names = re.findall(r'<th scope="row"><a [^>]+>([^<]+)</a>', found)
        assert names == [expected], query
    none = text(rita.get("/workspace/customers", query_string={"q": "%"}))
    assert "No customers match" in none


def test_my_customers_pages_a_long_book(client: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    for i in range(55):
        new_customer(app_runtime, world.shop_id, f"Zed{i:02d}", "Many", rep_id=world.reps["rob"])
    sign_in_rep(client, app_runtime, "rob@example.com")
    first = text(client.get("/workspace/customers"))
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = text(client.get("/workspace/customers", query_string={"page": 2}))
    assert "Zed54 Many" in second and "Bob Brooklyn" not in second
    assert "Page 2 of 2" in second


def test_a_customer_page_has_what_a_rep_needs_before_a_call(
    rita: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    html = text(rita.get(f"/workspace/customers/{world.customers['kim']}"))
    assert "<h1>Kim Tokyo</h1>" in html
    assert "Tokyo, JP" in html and "JST" in html
    assert "1 \u00d7 Linen shirt" in html and "Delivered" in html
    assert "Email</dt><dd>Subscribed" in html and "Calls</dt><dd>Not known" in html
    assert "Order #" in html  # the timeline
    assert "No calls yet." in html
    assert f"/workspace/checkins/{world.checkins['kim']}" in html  # the next call, linked


def test_the_form_passes_do_not_call_and_follow_ups_to_the_checkins(
    rita: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    url = f"/workspace/checkins/{world.checkins['kim']}"
    token = csrf_from(text(rita.get(url)))
    follow_up = (utcnow() + dt.timedelta(days=20)).date()
    saved = rita.post(
        url,
        data={
            "csrf_token": token,
            "outcome": "reached",
            "follow_up_at": follow_up.isoformat(),
            "follow_up_note": "Ask about the winter range",
        },
    )
    assert saved.status_code == 303
    with app_runtime.session() as db:
        task = db.scalars(sa.select(CheckIn).where(CheckIn.kind == "follow_up")).one()
        assert (task.customer_id, task.note, task.status) == (
            world.customers["kim"],
            "Ask about the winter range",
            "scheduled",
        )
        assert task.due_at.date() >= follow_up - dt.timedelta(days=1)
    page = text(rita.get(f"/workspace/customers/{world.customers['kim']}"))
    assert "follow-up: Ask about the winter range" in page

    url = f"/workspace/checkins/{world.checkins['ada']}"
    both = rita.post(
        url,
        data={"csrf_token": token, "outcome": "reached", "do_not_call": "y", "follow_up_at": follow_up.isoformat()},
    )
    assert both.status_code == 422 and "a follow-up call cannot be planned" in text(both)
    saved = rita.post(url, data={"csrf_token": token, "outcome": "reached", "do_not_call": "y"})
    assert saved.status_code == 303
    with app_runtime.session() as db:
        assert db.get_one(Customer, world.customers["ada"]).call_consent == "unsubscribed"
        attempt = db.scalars(sa.select(CheckInAttempt).where(CheckInAttempt.checkin_id == world.checkins["ada"])).one()
        assert attempt.do_not_call
    page = text(rita.get(f"/workspace/customers/{world.customers['ada']}"))
    assert "Asked not to be called" in page and ">Do not call<" in page


def test_workspace_pages_carry_the_page_headers(client: FlaskClient, app_runtime: Runtime, world: ShopWorld) -> None:
    anonymous = client.get("/workspace/sign-in")
    assert "frame-ancestors 'none'" in anonymous.headers["Content-Security-Policy"]
    sign_in_rep(client, app_runtime, "rita@example.com")
    for page in ("/workspace", f"/workspace/checkins/{world.checkins['ada']}", "/workspace/customers"):
        headers = client.get(page).headers
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "https://demo-shop.myshopify.com" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "same-origin"


def test_a_platform_sign_in_linked_on_the_roster_is_that_rep(
    client: FlaskClient, app_runtime: Runtime, world: ShopWorld
) -> None:
    from integration.shops.models import StaffRole
    from tests.staff_fixtures import add_staff, sign_in

    staff = add_staff(app_runtime, world.shop_id, "99", role=StaffRole.REP)  # Shopify tells no email
    with app_runtime.session() as db:
        db.get_one(Rep, world.reps["rob"]).staff_user_id = staff
    sign_in(client, staff)
    html = text(client.get("/workspace"))
    assert "Rob Rep" in html and "Bob Brooklyn" in html and "Ada Lovelace" not in html
