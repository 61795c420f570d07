"""The rep workspace (``/workspace``): Today's calls, one check-in with its outcome form, the rep's book,
and one customer. A rep sees only their own book and tasks; anything else is 404, as if it never was."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from integration import runtime_of
from integration.core.db import utcnow
from integration.customers.models import Customer
from integration.reps.cards import CustomerCard, checkin_orders, last_calls, load_orders, local, zone_of
from integration.reps.customer_page import customer_detail
from integration.reps.models import OPEN_CHECKIN, CheckIn, Rep
from integration.reps.outcome import OutcomeForm
from integration.reps.outcomes import OutcomeError, record_outcome
from integration.reps.pages import PAGE_SIZE, Page, page_blueprint, page_number, rep_required, signed_in_rep
from integration.reps.reading import Filters, call_script, customers, due_today, fill_tasks, find_task
from integration.shops.models import Shop

bp = page_blueprint("reps_workspace", __name__, url_prefix="/workspace")


@bp.get("", endpoint="today")
@rep_required
def today_page() -> Any:
    me = signed_in_rep()
    with runtime_of(current_app).session() as db:
        tasks = due_today(db, me.rep, me.shop)
        page = Page(1, PAGE_SIZE, len(tasks))
        page = Page(min(page_number(), page.pages), PAGE_SIZE, len(tasks))
        shown = tasks[page.offset : page.offset + PAGE_SIZE]
        fill_tasks(db, shown, me.rep.time_zone)
    return render_template(
        "reps/today.html",
        shop=me.shop,
        rep=me.rep,
        tasks=shown,
        page=page,
        now=local(utcnow(), me.rep.time_zone),
        nav="today",
    )


def _checkin_context(db: Session, me_rep: Rep, shop: Shop, checkin: CheckIn, customer: Customer) -> dict[str, Any]:
    covered = checkin_orders(db, [checkin.id]).get(checkin.id, [])
    cards = load_orders(db, covered, me_rep.time_zone)
    calls = last_calls(db, [customer.id], me_rep.time_zone)
    script = call_script(db, shop.id)
    orders = [cards[o] for o in covered if o in cards]
    card = CustomerCard.of(customer, shop.time_zone)
    products: list[tuple[str, str]] = []
    for order in orders:
        products += [p for p in order.products if p not in products]
    return {
        "checkin": checkin,
        "open": checkin.status in OPEN_CHECKIN,
        "customer": card,
        "orders": orders,
        "last_call": calls.get(customer.id),
        "script": script,
        "products": products,
        "due_rep": local(checkin.due_at, me_rep.time_zone),
        "due_customer": local(checkin.due_at, card.time_zone),
    }


def _form(products: list[tuple[str, str]], zone: str, formdata: Any = None) -> OutcomeForm:
    today_there = utcnow().astimezone(zone_of(zone)).date()
    return OutcomeForm(formdata=formdata, products=products, today=today_there)


@bp.get("/checkins/<int:checkin_id>")
@rep_required
def checkin_page(checkin_id: int) -> Any:
    me = signed_in_rep()
    with runtime_of(current_app).session() as db:
        found = find_task(db, me.shop, me.rep, checkin_id)
        if found is None:
            abort(404, description="No such call in your tasks.")
        context = _checkin_context(db, me.rep, me.shop, *found)
    form = _form(context["products"], context["customer"].time_zone)
    return render_template("reps/checkin.html", shop=me.shop, rep=me.rep, form=form, nav="today", **context)


@bp.post("/checkins/<int:checkin_id>")
@rep_required
def log_outcome(checkin_id: int) -> Any:
    me = signed_in_rep()
    with runtime_of(current_app).session() as db:
        found = find_task(db, me.shop, me.rep, checkin_id)
        if found is None:
            abort(404, description="No such call in your tasks.")
        checkin, customer = found
        if checkin.status not in OPEN_CHECKIN:
            abort(409, description="This call is closed already; its outcome was recorded.")
        context = _checkin_context(db, me.rep, me.shop, checkin, customer)
        card = context["customer"]
        form = _form(context["products"], card.time_zone, request.form)
        if not form.validate():
            page = render_template("reps/checkin.html", shop=me.shop, rep=me.rep, form=form, nav="today", **context)
            return page, 422
        try:
            record_outcome(
                db,
                checkin.id,
                me.rep.id,
                form.outcome.data,
                form.notes.data or None,
                form.score,
                form.improve.data or None,
                form.improve_product_id.data or None,
                form.follow_up_at.data,  # a date: the first slot of that day in the customer's window
                form.follow_up_note.data or None,
                bool(form.do_not_call.data),
            )
        except OutcomeError as exc:
            abort(409, description=str(exc))
    flash(f"Call with {card.name} saved.", "success")
    return redirect(url_for("reps_workspace.today"), code=303)


@bp.get("/customers")
@rep_required
def book() -> Any:
    me = signed_in_rep()
    filters = Filters(query=Filters.of(request.args.to_dict()).query)
    with runtime_of(current_app).session() as db:
        rows, page = customers(db, me.shop, filters, page_number(), book_of=me.rep.id, zone=me.rep.time_zone)
    return render_template(
        "reps/book.html", shop=me.shop, rep=me.rep, rows=rows, page=page, filters=filters, nav="customers"
    )


@bp.get("/customers/<int:customer_id>")
@rep_required
def customer(customer_id: int) -> Any:
    me = signed_in_rep()
    with runtime_of(current_app).session() as db:
        detail = customer_detail(db, me.shop, customer_id, page_number(), rep_id=me.rep.id, zone=me.rep.time_zone)
    if detail is None:
        abort(404, description="No such customer in your book.")
    return render_template(
        "reps/customer.html",
        shop=me.shop,
        rep=me.rep,
        detail=detail,
        nav="customers",
        viewer="rep",
        page_endpoint="reps_workspace.customer",
    )
