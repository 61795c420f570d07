"""The merchant's per-book offer forms (``/merchant/reps/<id>/offer``, the shop's admin only): give a rep's
book its own thank-you code offer, change or pause it, or clear it so the book takes the shop's default.
Invalid input shows the rep's page again with the message beside the field (422) and changes nothing;
another shop's rep is 404."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, url_for

from integration import runtime_of
from integration.messaging.offers import OfferError, clear_offer, offer_of, save_offer
from integration.reps.models import RepState
from integration.reps.offer_form import OfferForm
from integration.reps.pages import page_blueprint
from integration.reps.roster_page import _Refused, _rep, _rep_page, _shop, sentence
from integration.shops.staff import admin_required

bp = page_blueprint("reps_offers", __name__, url_prefix="/merchant/reps")


@bp.post("/<int:rep_id>/offer")
@admin_required
def save(rep_id: int) -> Any:
    shop = _shop()
    form = OfferForm()
    try:
        with runtime_of(current_app).session() as db:
            rep = _rep(db, shop, rep_id)
            if rep.state == RepState.LEFT:
                abort(409, description=f"{rep.name} has left; their book was handed over.")
            if not form.validate():
                raise _Refused(_rep_page(db, shop, rep, offer=form))
            try:
                offer = save_offer(
                    db, rep, enabled=bool(form.enabled.data), percent=form.percent.data, days=form.days.data
                )
            except OfferError as exc:
                field = getattr(form, exc.field)
                field.errors = [*field.errors, sentence(str(exc))]
                raise _Refused(_rep_page(db, shop, rep, offer=form)) from None
            name, enabled, percent, days = rep.name, offer.enabled, offer.percent, offer.days
    except _Refused as refused:
        return refused.page, 422
    if enabled:
        flash(f"{name}'s customers get {percent} % off for {days} days in their thank-you codes.", "success")
    else:
        flash(f"{name}'s offer is saved but paused: their customers get the shop's default.", "success")
    return redirect(url_for("reps_roster.rep_page", rep_id=rep_id, _anchor="offer-heading"), code=303)


@bp.post("/<int:rep_id>/offer/clear")
@admin_required
def clear(rep_id: int) -> Any:
    shop = _shop()
    with runtime_of(current_app).session() as db:
        rep = _rep(db, shop, rep_id)
        had = offer_of(db, rep.id) is not None
        clear_offer(db, rep)
        name = rep.name
    flash(
        f"{name}'s book uses the shop's default offer again." if had else f"{name}'s book had no offer of its own.",
        "success",
    )
    return redirect(url_for("reps_roster.rep_page", rep_id=rep_id, _anchor="offer-heading"), code=303)
