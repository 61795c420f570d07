"""``reps``: the roster of dedicated reps, as ops and scripts see it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from integration import runtime_of
from integration.customers.views import find_shop
from integration.reps.models import DUNBAR, Rep
from integration.reps.roster import DEFAULT_HOURS, RepInput, RosterError, add_rep, find_rep, leave, list_reps, send_away
from integration.reps.tasks import enqueue_hand_over
from integration.shops.models import Shop


@click.group(cls=AppGroup)
def reps() -> None:
    """Dedicated reps and their books (at most 150 customers each)."""


def _shop(session: Session, identifier: str) -> Shop:
    shop = find_shop(session, identifier)
    if shop is None:
        raise click.ClickException(f"shop not found: {identifier}")
    return shop


def _rep(session: Session, shop: Shop, email: str) -> Rep:
    rep = find_rep(session, shop.id, email)
    if rep is None:
        raise click.ClickException(f"no rep {email} at {shop.identifier}")
    return rep


def rep_json(rep: Rep) -> dict[str, Any]:
    return {
        "email": rep.email,
        "name": rep.name,
        "time_zone": rep.time_zone,
        "capacity": rep.capacity,
        "capacity_override": rep.capacity_override,
        "book_size": rep.book_size,
        "state": rep.state,
        "away_until": rep.away_until.isoformat() if rep.away_until else None,
    }


@reps.command("add")
@click.argument("shop")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--time-zone", "time_zone", required=True, help="IANA name, e.g. Europe/London.")
@click.option(
    "--capacity",
    type=int,
    default=DUNBAR,
    show_default=True,
    help=f"Customers at most (>{DUNBAR} needs --override-capacity).",
)
@click.option("--override-capacity", is_flag=True, help=f"Allow a book above {DUNBAR}.")
@click.option("--hours", default=DEFAULT_HOURS, show_default=True, help="Working hours in the rep's zone.")
@click.option("--phone")
def add(
    shop: str,
    name: str,
    email: str,
    time_zone: str,
    capacity: int,
    override_capacity: bool,
    hours: str,
    phone: str | None,
) -> None:
    """Put a rep on the shop's roster (customers waiting in the pool are assigned first)."""
    data = RepInput(name, email, time_zone, capacity, hours, phone, override_capacity)
    with runtime_of(current_app).session() as session:
        try:
            rep = add_rep(session, _shop(session, shop).id, data)
        except RosterError as exc:
            raise click.BadParameter(str(exc)) from None
        click.echo(f"added {rep.email} ({rep.book_size}/{rep.capacity} customers)")
        if rep.capacity_override:
            click.echo(f"warning: a book of {rep.capacity} is above {DUNBAR}", err=True)


@reps.command("list")
@click.argument("shop")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_command(shop: str, as_json: bool) -> None:
    """The roster with book sizes."""
    with runtime_of(current_app).session() as session:
        rows = [rep_json(rep) for rep in list_reps(session, _shop(session, shop).id)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['email']:<36} {row['name'][:28]:<28} {row['book_size']:>4}/{row['capacity']:<4} "
            f"{row['state']:<7} {row['time_zone']}"
        )


@reps.command("leave")
@click.argument("shop")
@click.argument("email")
def leave_command(shop: str, email: str) -> None:
    """The rep leaves: their customers are handed over to the others by the usual rules (one job)."""
    with runtime_of(current_app).session() as session:
        rep = _rep(session, _shop(session, shop), email)
        leave(session, rep)
        rep_id, book = rep.id, rep.book_size
    enqueue_hand_over(runtime_of(current_app), rep_id)
    click.echo(f"{email} has left; the hand-over of {book} customers is queued")


@reps.command("away")
@click.argument("shop")
@click.argument("email")
@click.option("--until", "until", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day away.")
@click.option("--backup", required=True, help="The rep who takes their calls meanwhile.")
def away(shop: str, email: str, until: dt.datetime, backup: str) -> None:
    """The rep is away until DATE: calls due meanwhile go to the backup; the book stays."""
    with runtime_of(current_app).session() as session:
        found = _shop(session, shop)
        rep, backup_rep = _rep(session, found, email), _rep(session, found, backup)
        try:
            send_away(session, rep, until.date(), backup_rep)
        except RosterError as exc:
            raise click.BadParameter(str(exc)) from None
    click.echo(f"{email} is away until {until.date().isoformat()}; {backup} takes their calls")
