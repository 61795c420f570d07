"""``checkins``: the post-purchase calls, as ops and scripts see them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from integration import runtime_of
from integration.customers.views import find_shop
from integration.reps.listing import list_checkins, view_json
from integration.reps.models import OPEN_CHECKIN, CheckInStatus
from integration.reps.roster import find_rep

STATUSES = [status.value for status in CheckInStatus]


class IsoMoment(click.ParamType[dt.datetime, Any]):
    """An ISO 8601 date or moment; without an offset it is read as UTC."""

    name = "ISO"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            moment = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time (e.g. 2026-03-09T17:00:00Z)", param, ctx)
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


@click.group(cls=AppGroup)
def checkins() -> None:
    """Post-purchase check-in calls."""


@checkins.command("list")
@click.argument("shop")
@click.option("--rep", "rep_email", help="Only the calls this rep works (their own, and any they cover).")
@click.option(
    "--due-before", type=IsoMoment(), help="Only tasks due before this moment (ISO 8601; UTC without offset)."
)
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    help="Only tasks in this status (default: the open ones, scheduled and due).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_command(
    shop: str, rep_email: str | None, due_before: dt.datetime | None, status: str | None, as_json: bool
) -> None:
    """The shop's check-ins, soonest first: by default every open task."""
    with runtime_of(current_app).session() as session:
        found = find_shop(session, shop)
        if found is None:
            raise click.ClickException(f"shop not found: {shop}")
        rep_id = None
        if rep_email is not None:
            rep = find_rep(session, found.id, rep_email)
            if rep is None:
                raise click.BadParameter(f"no rep {rep_email} at {found.identifier}", param_hint="--rep")
            rep_id = rep.id
        views = list_checkins(
            session,
            found.id,
            rep_id=rep_id,
            due_before=due_before,
            statuses=[status] if status else OPEN_CHECKIN,
        )
        rows = [view_json(view) for view in views]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        flag = " (outside window)" if row["outside_window"] else ""
        click.echo(
            f"{row['id']:>6} {row['status']:<11} {row['due_at']:<21} {row['customer_local_due']:<26} "
            f"{row['customer_email'] or '-':<32} {row['rep_email'] or '-':<28} {', '.join(row['orders'])}{flag}"
        )
