"""``events``: list stored webhook events and replay them."""

from __future__ import annotations

import datetime as dt
import json

import click
from flask import current_app
from flask.cli import AppGroup

from integration import runtime_of
from integration.events.models import EventStatus
from integration.events.replay import list_events, replay_events, select_events

STATUSES = click.Choice([s.value for s in EventStatus])


def _since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 date or time: {value!r}", param_hint="--since") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@click.group(cls=AppGroup)
def events() -> None:
    """Inspect and replay stored webhook events."""


@events.command("list")
@click.option("--status", type=STATUSES)
@click.option("--shop", help="Shopify domain or BigCommerce store hash.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_command(status: str | None, shop: str | None, limit: int, as_json: bool) -> None:
    """List stored events, newest first (bodies are never shown)."""
    with runtime_of(current_app).session() as session:
        rows = list_events(session, status=status, shop=shop, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no events")
        return
    click.echo(f"{'ID':>8}  {'PLATFORM':<11} {'SHOP':<32} {'TOPIC':<28} {'STATUS':<11} ", nl=False)
    click.echo(f"{'TRIES':>5} {'DUPS':>4}  RECEIVED")
    for row in rows:
        click.echo(
            f"{row['id']:>8}  {row['platform']:<11} {row['shop'][:32]:<32} {row['topic'][:28]:<28} "
            f"{row['status']:<11} {row['attempts']:>5} {row['duplicates']:>4}  {row['received_at']}"
        )
        if row["last_error"]:
            click.echo(f"{'':>10}{row['last_error'][:200]}")


@events.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--status", type=STATUSES, help="Replay every event with this status.")
@click.option("--shop", help="Only this shop's events.")
@click.option("--since", help="Only events received at or after this ISO 8601 time (UTC if no offset).")
def replay_command(ids: tuple[int, ...], status: str | None, shop: str | None, since: str | None) -> None:
    """Process events again from their stored bodies, even if already processed (dedupe is bypassed
    on purpose). Data older than what is stored is still never written over newer data."""
    if not ids and not status:
        raise click.UsageError("give event IDs, or --status (with optional --shop / --since)")
    runtime = runtime_of(current_app)
    with runtime.session() as session:
        chosen = select_events(session, ids=ids, status=status, shop=shop, since=_since(since))
    missing = sorted(set(ids) - set(chosen))
    if missing:
        click.echo(f"no such event: {', '.join(map(str, missing))}", err=True)
    if not chosen:
        click.echo("nothing to replay")
        raise SystemExit(1 if missing else 0)
    replay_events(runtime, chosen)
    click.echo(f"replaying {len(chosen)} event(s): {_ids(chosen)}")
    if missing:
        raise SystemExit(1)


def _ids(ids: list[int]) -> str:
    shown = ", ".join(map(str, ids[:20]))
    return shown + (f" … (+{len(ids) - 20})" if len(ids) > 20 else "")


@events.command("relay")
def relay_command() -> None:
    """Queue every stored event that is waiting (the scheduler does this continuously)."""
    from integration.events.dispatch import relay_once

    runtime = runtime_of(current_app)
    total = 0
    while count := relay_once(runtime):
        total += count
    click.echo(f"queued {total} event(s)")


@events.command("sweep")
def sweep_command() -> None:
    """Re-queue events that Redis lost or a dead worker left behind (the scheduler runs this)."""
    from integration.events.dispatch import sweep

    report = sweep(runtime_of(current_app))
    click.echo(f"re-queued {len(report.requeued)} event(s); {report.still_queued} still waiting in Redis")
