"""``flask --app integration reps add|list|leave|away``: the interface scripts and ops use."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import Flask

from integration import runtime_of
from integration.customers.models import Customer
from integration.reps.books import assign
from tests.helpers import SHOP_DOMAIN, add_customer, add_shop, drain, invoke


@pytest.fixture
def shop(app: Flask) -> int:
    return add_shop(runtime_of(app)).id


def reps_json(app: Flask) -> list[dict[str, object]]:
    result = invoke(app, "reps", "list", SHOP_DOMAIN, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_add_and_list(app: Flask, shop: int) -> None:
    details = ["--name", "Dana Reyes", "--email", "Dana@Shop.example", "--time-zone", "America/New_York"]
    more = ["--capacity", "120", "--hours", "Mon-Fri 08:00-16:00", "--phone", "+1 555 0100"]
    result = invoke(app, "reps", "add", SHOP_DOMAIN, *details, *more)
    assert result.exit_code == 0, result.output
    assert reps_json(app) == [
        {
            "email": "dana@shop.example",
            "name": "Dana Reyes",
            "time_zone": "America/New_York",
            "capacity": 120,
            "capacity_override": False,
            "book_size": 0,
            "state": "active",
            "away_until": None,
        }
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-zone", "Mars/Olympus"], "unknown time zone"),
        (["--time-zone", "UTC", "--capacity", "200"], "needs the override"),
        (["--time-zone", "UTC", "--capacity", "0"], "at least 1"),
        (["--time-zone", "UTC", "--hours", "weekdays"], "working hours"),
    ],
)
def test_bad_input_is_refused_with_the_reason(app: Flask, shop: int, args: list[str], message: str) -> None:
    result = invoke(app, "reps", "add", SHOP_DOMAIN, "--name", "X", "--email", "x@shop.example", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert reps_json(app) == []


def test_a_capacity_above_150_with_the_override_warns(app: Flask, shop: int) -> None:
    result = invoke(
        app, "reps", "add", SHOP_DOMAIN, "--name", "Big", "--email", "big@shop.example",
        "--time-zone", "UTC", "--capacity", "200", "--override-capacity",
    )  # fmt: skip
    assert result.exit_code == 0
    assert "warning: a book of 200 is above 150" in result.stderr
    assert reps_json(app)[0]["capacity_override"] is True


def test_the_same_email_twice_is_refused(app: Flask, shop: int) -> None:
    args = ("reps", "add", SHOP_DOMAIN, "--name", "A", "--email", "a@shop.example", "--time-zone", "UTC")
    assert invoke(app, *args).exit_code == 0
    again = invoke(app, *args)
    assert again.exit_code == 2 and "already on the roster" in again.output


def test_leave_hands_the_book_over_in_one_job(app: Flask, shop: int) -> None:
    runtime = runtime_of(app)
    for email in ("leaver@shop.example", "stays@shop.example"):
        assert (
            invoke(
                app, "reps", "add", SHOP_DOMAIN, "--name", email[:5], "--email", email, "--time-zone", "UTC"
            ).exit_code
            == 0
        )
    customer_id = add_customer(runtime, shop, email="c@example.com", rep_id=None)
    with runtime.session() as session:
        first = assign(session, customer_id)
    leaver = next(r for r in reps_json(app) if r["book_size"] == 1)["email"]
    result = invoke(app, "reps", "leave", SHOP_DOMAIN, str(leaver))
    assert result.exit_code == 0, result.output
    assert "hand-over of 1 customers is queued" in result.output
    drain(runtime)
    states = {r["email"]: (r["state"], r["book_size"]) for r in reps_json(app)}
    assert states[str(leaver)] == ("left", 0)
    assert sorted(size for state, size in states.values() if state == "active") == [1]
    with runtime.session() as session:
        assert session.scalar(sa.select(Customer.rep_id).where(Customer.id == customer_id)) not in (None, first)


def test_away_needs_an_active_backup_and_a_future_date(app: Flask, shop: int) -> None:
    for email in ("away@shop.example", "backup@shop.example"):
        invoke(app, "reps", "add", SHOP_DOMAIN, "--name", email[:4], "--email", email, "--time-zone", "UTC")
    past = invoke(
        app,
        "reps",
        "away",
        SHOP_DOMAIN,
        "away@shop.example",
        "--until",
        "2001-01-01",
        "--backup",
        "backup@shop.example",
    )
    assert past.exit_code == 2 and "in the past" in past.output
    ok = invoke(
        app,
        "reps",
        "away",
        SHOP_DOMAIN,
        "away@shop.example",
        "--until",
        "2099-01-31",
        "--backup",
        "backup@shop.example",
    )
    assert ok.exit_code == 0, ok.output
    row = next(r for r in reps_json(app) if r["email"] == "away@shop.example")
    assert (row["state"], row["away_until"]) == ("away", "2099-01-31")
    unknown = invoke(
        app,
        "reps",
        "away",
        SHOP_DOMAIN,
        "away@shop.example",
        "--until",
        "2099-01-31",
        "--backup",
        "nobody@shop.example",
    )
    assert unknown.exit_code == 1 and "no rep nobody@shop.example" in unknown.output


def test_an_unknown_shop(app: Flask) -> None:
    result = invoke(app, "reps", "list", "nope.myshopify.com")
    assert result.exit_code == 1 and "shop not found" in result.output
