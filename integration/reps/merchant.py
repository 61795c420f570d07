"""The merchant's pages about customers (the shop's admin only): every customer (search, filter by segment
and rep) with the same customer page the reps see, the pool of customers waiting for a rep, and the voice
of the customer. The roster itself is ``reps.roster_page``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, render_template, request
from sqlalchemy.orm import Session

from integration import runtime_of
from integration.core.db import utcnow
from integration.customers.models import Customer
from integration.reps.cards import SEGMENT_LABELS, CustomerCard, local, zone_of
from integration.reps.customer_page import customer_detail
from integration.reps.models import Rep, RepState
from integration.reps.pages import PAGE_SIZE, Page, page_blueprint, page_number
from integration.reps.reading import Filters, shop_reps
from integration.reps.reading import customers as customer_rows
from integration.reps.voice import MAX_DAYS, Period
from integration.reps.voice import voice as voice_of
from integration.shops.models import Shop
from integration.shops.staff import admin_required, current_staff

bp = page_blueprint("reps_merchant", __name__, url_prefix="/merchant")


def _shop() -> Shop:
    found = current_staff()
    assert found is not None  # admin_required let the request through
    return found[1]


@dataclass(frozen=True)
class Books:
    """How full the shop's books are: for the roster and the pool's notice."""

    waiting: int
    free_places: int
    reps: int

    @property
    def full(self) -> bool:
        return self.free_places <= 0


def books_state(db: Session, shop_id: int) -> Books:
    """One query: customers waiting, free places in the books of reps who take customers, and how many reps."""
    waiting = (
        sa.select(sa.func.count())
        .select_from(Customer)
        .where(Customer.shop_id == shop_id, Customer.rep_id.is_(None), Customer.pool_since.is_not(None))
        .scalar_subquery()
    )
    taking = sa.and_(Rep.shop_id == shop_id, Rep.state != RepState.LEFT)
    room = sa.case((Rep.capacity > Rep.book_size, Rep.capacity - Rep.book_size), else_=0)
    free = sa.select(sa.func.coalesce(sa.func.sum(room), 0)).where(taking)
    row = db.execute(
        sa.select(
            waiting,
            free.scalar_subquery(),
            sa.select(sa.func.count()).select_from(Rep).where(taking).scalar_subquery(),
        )
    ).one()
    return Books(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


@bp.get("/customers")
@admin_required
def customers() -> Any:
    shop = _shop()
    filters = Filters.of(request.args.to_dict())
    if filters.segment and filters.segment not in SEGMENT_LABELS:
        filters = Filters(filters.query, "", filters.rep)
    with runtime_of(current_app).session() as db:
        reps = shop_reps(db, shop.id)
        rows, page = customer_rows(db, shop, filters, page_number())
    args = {
        key: value for key, value in (("q", filters.query), ("segment", filters.segment), ("rep", filters.rep)) if value
    }
    return render_template(
        "reps/customers.html",
        shop=shop,
        rows=rows,
        page=page,
        filters=filters,
        args=args,
        reps=reps,
        segments=SEGMENT_LABELS,
        nav="customers",
    )


@bp.get("/customers/<int:customer_id>")
@admin_required
def customer(customer_id: int) -> Any:
    shop = _shop()
    with runtime_of(current_app).session() as db:
        detail = customer_detail(db, shop, customer_id, page_number())
    if detail is None:
        abort(404, description="No such customer in this shop.")
    return render_template(
        "reps/customer.html",
        shop=shop,
        detail=detail,
        nav="customers",
        viewer="merchant",
        page_endpoint="reps_merchant.customer",
    )


@bp.get("/waiting")
@admin_required
def pool() -> Any:
    """The customers no book has room for, in the order they will be given a rep (VIPs, then oldest)."""
    shop = _shop()
    with runtime_of(current_app).session() as db:
        books = books_state(db, shop.id)
        page = Page(1, PAGE_SIZE, books.waiting)
        page = Page(min(page_number(), page.pages), PAGE_SIZE, books.waiting)
        waiting = db.scalars(
            sa.select(Customer)
            .where(Customer.shop_id == shop.id, Customer.rep_id.is_(None), Customer.pool_since.is_not(None))
            .order_by((Customer.segment == "vip").desc(), Customer.pool_since, Customer.id)
            .offset(page.offset)
            .limit(PAGE_SIZE)
        ).all()
        rows = [(CustomerCard.of(c, shop.time_zone), local(c.pool_since, shop.time_zone)) for c in waiting]
    return render_template("reps/pool.html", shop=shop, books=books, rows=rows, page=page, nav="pool")


def _period(zone: str | None) -> tuple[Period, dict[str, str]]:
    """The period asked for (``from``, ``to``: dates in the shop's days), or the last 30 days; with a
    message per field that could not be read."""
    today = utcnow().astimezone(zone_of(zone)).date()
    default = Period.default(today)
    errors: dict[str, str] = {}
    days: dict[str, dt.date] = {}
    for key, fallback in (("from", default.start), ("to", default.end)):
        raw = (request.args.get(key) or "").strip()
        try:
            days[key] = dt.date.fromisoformat(raw) if raw else fallback
        except ValueError:
            errors[key] = "Enter a date like 2027-01-31."
            days[key] = fallback
    if not errors:
        if days["from"] > days["to"]:
            errors["to"] = "The end of the period is before its start."
        elif (days["to"] - days["from"]).days >= MAX_DAYS:
            errors["from"] = f"Choose a period of at most {MAX_DAYS} days."
    return (default if errors else Period(days["from"], days["to"])), errors


@bp.get("/voice")
@admin_required
def voice() -> Any:
    shop = _shop()
    period, errors = _period(shop.time_zone)
    with runtime_of(current_app).session() as db:
        heard = voice_of(db, shop, period)
    typed = {key: request.args.get(key, "") for key in ("from", "to")} if errors else {}
    page = render_template("reps/voice.html", shop=shop, voice=heard, errors=errors, typed=typed, nav="voice")
    return (page, 422) if errors else page
