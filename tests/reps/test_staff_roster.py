"""One roster: the settings page's toggle on a staff row and the reps (``Rep`` rows) move together, so the
settings page, the merchant's roster page and ``reps list`` agree, whichever of them made the change."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from integration.core.queues import EVENTS
from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.reps.books import assign
from integration.reps.hours import parse_hours
from integration.reps.models import Rep
from integration.shops.models import StaffRole, StaffUser
from tests.helpers import SHOP_DOMAIN, add_customer, drain, invoke, update_shop
from tests.staff_fixtures import People, add_staff, csrf_token, sign_in


def text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def roster(client: FlaskClient, staff_id: int, action: str) -> Any:
    data = {"section": "staff", "staff_id": str(staff_id), "action": action, "csrf_token": csrf_token(client)}
    return client.post("/settings", data=data)


def staff_row(client: FlaskClient, staff_id: int) -> tuple[str, str]:
    """The role shown on the settings page's row of ``staff_id``, and its roster button."""
    page = text(client.get("/settings"))
    found = re.search(rf'<tr id="staff-{staff_id}".*?</tr>', page, re.S)
    assert found, staff_id
    row = found.group(0)
    role = re.findall(r"<td>(Admin|Rep|Staff)</td>", row)
    button = re.search(r"<button type=\"submit\">([^<]+)</button>", row)
    return role[0], button.group(1) if button else ""


def reps_list(app: Flask) -> dict[str, dict[str, Any]]:
    result = invoke(app, "reps", "list", SHOP_DOMAIN, "--json")
    assert result.exit_code == 0, result.output
    return {row["email"]: row for row in json.loads(result.output)}


def role_of(runtime: Runtime, staff_id: int) -> str:
    with runtime.session() as db:
        return db.get_one(StaffUser, staff_id).role


def test_putting_staff_on_the_roster_makes_them_a_rep_and_taking_them_off_hands_their_book_over(
    client: FlaskClient, app: Flask, people: People, app_runtime: Runtime
) -> None:
    update_shop(app_runtime, people.shop.id, time_zone="America/Chicago", time_zone_override="America/Chicago")
    sign_in(client, people.admin)
    added = roster(client, people.staff, "add")
    assert added.status_code == 303 and added.headers["Location"].endswith("/settings#staff")
    assert "Sam Staff added to the roster." in text(client.get("/settings"))
    sam = reps_list(app)["sam@example.com"]
    assert {k: sam[k] for k in ("name", "time_zone", "capacity", "book_size", "state")} == {
        "name": "Sam Staff",
        "time_zone": "America/Chicago",  # the shop's zone until the merchant sets theirs
        "capacity": 150,
        "book_size": 0,
        "state": "active",
    }
    with app_runtime.session() as db:
        rep = db.scalars(sa.select(Rep).where(Rep.email == "sam@example.com")).one()
        assert rep.staff_user_id == people.staff
        assert rep.working_hours == parse_hours("Mon-Fri 09:00-17:00").to_json()
        sam_id = rep.id
    assert staff_row(client, people.staff) == ("Rep", "Remove from roster")
    assert f'href="/merchant/reps/{sam_id}"' in text(client.get("/merchant/reps"))  # the roster page

    # Sam gets customers; another rep joins by the command line; Sam is taken off the roster.
    customers = [add_customer(app_runtime, people.shop.id, email=f"c{i}@example.com") for i in range(3)]
    with app_runtime.session() as db:
        for customer_id in customers:
            assert assign(db, customer_id) == sam_id
    joined = invoke(
        app, "reps", "add", SHOP_DOMAIN, "--name", "Nia", "--email", "nia@shop.example", "--time-zone", "UTC"
    )
    assert joined.exit_code == 0, joined.output
    removed = roster(client, people.staff, "remove")
    assert removed.status_code == 303
    assert "Sam Staff removed from the roster; their 3 customers are being handed over" in text(client.get("/settings"))
    assert f"hand-over-{sam_id}" in app_runtime.queue(EVENTS).job_ids  # queued as `reps leave` queues it
    drain(app_runtime)
    listed = reps_list(app)
    assert (listed["sam@example.com"]["state"], listed["sam@example.com"]["book_size"]) == ("left", 0)
    assert listed["nia@shop.example"]["book_size"] == 3
    with app_runtime.session() as db:
        holders = set(db.scalars(sa.select(Customer.rep_id).where(Customer.id.in_(customers))))
        assert holders == {db.scalar(sa.select(Rep.id).where(Rep.email == "nia@shop.example"))}
    assert staff_row(client, people.staff) == ("Staff", "Add to roster")
    assert role_of(app_runtime, people.staff) == StaffRole.STAFF

    # Back on the roster: the same rep, active again.
    assert roster(client, people.staff, "add").status_code == 303
    assert reps_list(app)["sam@example.com"]["state"] == "active"
    with app_runtime.session() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Rep).where(Rep.email == "sam@example.com")) == 1


def test_the_command_line_and_the_settings_page_show_the_same_roster(
    client: FlaskClient, app: Flask, people: People, app_runtime: Runtime
) -> None:
    sign_in(client, people.admin)
    assert staff_row(client, people.staff) == ("Staff", "Add to roster")
    added = invoke(
        app, "reps", "add", SHOP_DOMAIN, "--name", "Sam", "--email", "SAM@example.com", "--time-zone", "Europe/Paris"
    )
    assert added.exit_code == 0, added.output
    assert staff_row(client, people.staff) == ("Rep", "Remove from roster")  # matched by their email
    assert role_of(app_runtime, people.staff) == StaffRole.REP
    # On the roster already: the page says so and makes no second rep (the rep keeps what the CLI set).
    assert roster(client, people.staff, "add").status_code == 303
    assert "Sam Staff is already on the roster." in text(client.get("/settings"))
    assert reps_list(app)["sam@example.com"]["time_zone"] == "Europe/Paris"

    left = invoke(app, "reps", "leave", SHOP_DOMAIN, "sam@example.com")
    assert left.exit_code == 0, left.output
    assert staff_row(client, people.staff) == ("Staff", "Add to roster")
    assert role_of(app_runtime, people.staff) == StaffRole.STAFF
    assert roster(client, people.staff, "remove").status_code == 303
    assert "Sam Staff is already off the roster." in text(client.get("/settings"))


def test_staff_without_an_email_cannot_be_a_rep(client: FlaskClient, people: People, app_runtime: Runtime) -> None:
    nameless = add_staff(app_runtime, people.shop.id, "9", name="Una Verified")  # Shopify kept no email
    sign_in(client, people.admin)
    response = roster(client, nameless, "add")
    assert response.status_code == 422
    assert "Una Verified has no email address from the platform" in text(response)
    assert role_of(app_runtime, nameless) == StaffRole.STAFF
    with app_runtime.session() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Rep)) == 0
