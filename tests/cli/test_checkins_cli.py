"""``flask --app integration checkins list``: the interface scripts and ops use."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from integration import runtime_of
from integration.reps.outcomes import record_outcome
from tests.helpers import SHOP_DOMAIN, add_shop, invoke
from tests.reps.conftest import World, utc

DELIVERED = utc(2027, 3, 4, 15)  # Thursday: the calls fall on Monday 8 March


def listed(app: Flask, *args: str) -> list[dict[str, Any]]:
    result = invoke(app, "checkins", "list", SHOP_DOMAIN, "--json", *args)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


@pytest.fixture
def world(app: Flask) -> World:
    runtime = runtime_of(app)
    world = World(runtime, add_shop(runtime).id)
    world.rep("dana@shop.example", zone="Europe/London")
    world.rep("lee@shop.example", zone="America/Los_Angeles")
    for number, email, zone in [
        (1001, "ann@example.com", "Europe/London"),
        (1002, "ann@example.com", "Europe/London"),
        (2001, "cal@example.com", "America/Los_Angeles"),
    ]:
        world.order(number, email=email, zone=zone, now=DELIVERED)
        world.deliver(number, DELIVERED, now=DELIVERED)
    return world


def test_list_prints_every_open_task_with_both_clocks(app: Flask, world: World) -> None:
    ann, cal = listed(app)
    assert {key: ann[key] for key in ("customer_email", "rep_email", "due_at", "customer_local_due", "status")} == {
        "customer_email": "ann@example.com",
        "rep_email": "dana@shop.example",
        "due_at": "2027-03-08T10:00:00Z",
        "customer_local_due": "2027-03-08T10:00:00+00:00",
        "status": "scheduled",
    }
    assert ann["orders"] == ["#1001", "#1002"]  # two deliveries, one call
    assert isinstance(ann["id"], int) and ann["outside_window"] is False
    assert (cal["rep_email"], cal["due_at"], cal["customer_local_due"], cal["rep_local_due"]) == (
        "lee@shop.example",
        "2027-03-08T18:00:00Z",
        "2027-03-08T10:00:00-08:00",
        "2027-03-08T10:00:00-08:00",
    )
    text = invoke(app, "checkins", "list", SHOP_DOMAIN)
    assert text.exit_code == 0 and "ann@example.com" in text.output and "#1001, #1002" in text.output


def test_filters_by_rep_due_time_and_status(app: Flask, world: World) -> None:
    assert [r["customer_email"] for r in listed(app, "--rep", "LEE@shop.example")] == ["cal@example.com"]
    assert [r["customer_email"] for r in listed(app, "--due-before", "2027-03-08T12:00:00Z")] == ["ann@example.com"]
    # Without an offset the moment is UTC; with one it is converted.
    assert [r["customer_email"] for r in listed(app, "--due-before", "2027-03-08T10:00:00")] == []
    assert len(listed(app, "--due-before", "2027-03-08T11:00:01-08:00")) == 2
    ann_id = listed(app)[0]["id"]
    with world.runtime.session() as session:
        record_outcome(session, ann_id, None, "reached", now=utc(2027, 3, 8, 10, 5))
    assert [r["customer_email"] for r in listed(app)] == ["cal@example.com"]  # open ones only by default
    done = listed(app, "--status", "done")
    assert [(r["id"], r["status"]) for r in done] == [(ann_id, "done")]
    assert listed(app, "--status", "cancelled") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--due-before", "next tuesday"], "is not an ISO 8601 date or time"),
        (["--due-before", "2027-02-30"], "is not an ISO 8601 date or time"),
        (["--status", "open"], "Invalid value for '--status'"),
        (["--rep", "nobody@shop.example"], "no rep nobody@shop.example"),
    ],
)
def test_bad_input_is_a_usage_error_not_a_traceback(app: Flask, world: World, args: list[str], message: str) -> None:
    result = invoke(app, "checkins", "list", SHOP_DOMAIN, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # click's usage exit, nothing else


def test_an_unknown_shop_says_so(app: Flask) -> None:
    result = invoke(app, "checkins", "list", "nowhere.myshopify.com", "--json")
    assert result.exit_code == 1
    assert "shop not found: nowhere.myshopify.com" in result.output


def test_the_profile_shows_the_next_check_in(app: Flask, world: World) -> None:
    result = invoke(app, "customers", "show", SHOP_DOMAIN, "cal@example.com", "--json")
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output)
    (cal,) = listed(app, "--rep", "lee@shop.example")
    assert profile["next_checkin"]["id"] == cal["id"]
    assert profile["next_checkin"]["due_at"] == "2027-03-08T18:00:00Z"
    assert profile["rep"] == {"name": "Lee", "email": "lee@shop.example"}
