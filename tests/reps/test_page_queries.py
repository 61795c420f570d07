"""Every reps page costs the same number of SQL statements however long its lists: counted with a
SQLAlchemy event listener on the app's engine, for a small shop and for one ten times larger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from integration import runtime_of
from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.reps.outcomes import record_outcome
from integration.shops.models import StaffRole
from tests.helpers import add_shop
from tests.reps.world import Bought, new_checkin, new_customer, new_order, new_rep, sign_in_rep
from tests.staff_fixtures import add_staff, sign_in


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = runtime_of(app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def grow(runtime: Runtime, shop_id: int, rep_id: int, n: int, *, tag: str) -> tuple[int, int]:
    """``n`` customers in the rep's book, each with two orders, a call due and a past call; returns one
    customer and their task (the customer with ``n`` orders and ``n`` calls)."""
    delivered = utcnow() - dt.timedelta(days=2)
    first_customer = first_task = 0
    for i in range(n):
        customer = new_customer(
            runtime, shop_id, f"{tag}{i:03d}", "Person", rep_id=rep_id, zone=("Asia/Tokyo", "Europe/Paris")[i % 2]
        )
        orders = [
            new_order(
                runtime,
                shop_id,
                customer,
                [Bought("Shirt", 1, "p-shirt"), Bought("Cap", 1, f"p-cap{i}")],
                delivered_at=delivered,
            )
            for _ in range(3)
        ]
        done = new_checkin(
            runtime, shop_id, customer, rep_id, orders[:1], status="due", due_at=utcnow() - dt.timedelta(days=40)
        )
        with runtime.session() as db:
            record_outcome(
                db,
                done,
                rep_id,
                "reached",
                notes="fine",
                recommend=i % 11,
                improve="more caps",
                improve_product_id=f"p-cap{i}",
            )
        task = new_checkin(runtime, shop_id, customer, rep_id, orders[1:], status="due")
        if i == 0:
            first_customer, first_task = customer, task
    for _ in range(n):  # the first customer's long history: n more orders and calls
        order = new_order(runtime, shop_id, first_customer, [Bought("Sock", 2, "p-sock")], delivered_at=delivered)
        done = new_checkin(runtime, shop_id, first_customer, rep_id, [order], status="due", kind="follow_up")
        with runtime.session() as db:
            record_outcome(db, done, rep_id, "voicemail", notes="later")
    return first_customer, first_task


def statements_per_page(app: Flask, client: FlaskClient, pages: list[str]) -> dict[str, int]:
    found = {}
    for page in pages:
        client.get(page)  # warm: the first request of a process reads what later ones have cached
        with counting(app) as statements:
            response = client.get(page)
        assert response.status_code == 200, (page, response.get_data(as_text=True)[:500])
        found[page] = len(statements)
    return found


def shop_of_size(app: Flask, runtime: Runtime, n: int, domain: str) -> tuple[int, int, int, int]:
    shop = add_shop(runtime, identifier=domain).id
    rep = new_rep(runtime, shop, f"rep@{domain}", "Pat Rep")
    for i in range(max(1, n // 5)):
        new_rep(runtime, shop, f"other{i}@{domain}", f"Other {i}")
    customer, task = grow(runtime, shop, rep, n, tag=domain[:3])
    admin = add_staff(runtime, shop, f"admin-{domain}", role=StaffRole.ADMIN, name="Admin")
    return shop, customer, task, admin


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_each_page_costs_the_same_statements_for_3_or_30_rows(
    app: Flask, client: FlaskClient, app_runtime: Runtime
) -> None:
    counts: list[dict[str, int]] = []
    for n, domain in ((3, "small.myshopify.com"), (30, "large.myshopify.com")):
        _shop, customer, task, admin = shop_of_size(app, app_runtime, n, domain)
        rep_pages = [
            "/workspace",
            f"/workspace/checkins/{task}",
            "/workspace/customers",
            "/workspace/customers?q=person",
            f"/workspace/customers/{customer}",
        ]
        merchant_pages = [
            "/merchant/reps",
            "/merchant/waiting",
            "/merchant/customers",
            "/merchant/customers?segment=new&q=person",
            f"/merchant/customers/{customer}",
            "/merchant/voice",
        ]
        reps = app.test_client()
        sign_in_rep(reps, app_runtime, f"rep@{domain}")
        sign_in(client, admin)
        found = statements_per_page(app, reps, rep_pages) | statements_per_page(app, client, merchant_pages)
        counts.append({page.replace(str(customer), "C").replace(str(task), "T"): c for page, c in found.items()})
    small, large = counts
    assert small == large
    assert max(small.values()) <= 12, small


def test_today_pages_a_long_list(client: FlaskClient, app_runtime: Runtime) -> None:
    shop = add_shop(app_runtime).id
    rep = new_rep(app_runtime, shop, "pat@example.com", "Pat Rep", capacity=150)
    for i in range(55):
        customer = new_customer(app_runtime, shop, f"P{i:02d}", "Person", rep_id=rep)
        new_checkin(app_runtime, shop, customer, rep, [], status="due")
    sign_in_rep(client, app_runtime, "pat@example.com")
    first = client.get("/workspace").get_data(as_text=True)
    assert "55 calls due or overdue" in first and "Page 1 of 2" in first
    second = client.get("/workspace?page=2").get_data(as_text=True)
    assert second.count('<article class="task') == 5
