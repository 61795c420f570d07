"""``outbox``: the emails the app wrote, sent or kept (without SMTP_URL they stay here)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from integration import runtime_of
from integration.customers.views import find_shop
from integration.messaging.outbox import detail, get_message, list_messages, summary

STATUSES = ["waiting", "queued", "sending", "unconfirmed", "sent", "failed", "skipped"]


@click.group(cls=AppGroup)
def outbox() -> None:
    """Emails in the outbox."""


@outbox.command("list")
@click.option("--shop", help="Only this shop's emails (Shopify domain or store hash).")
@click.option("--status", type=click.Choice(STATUSES), help="Only emails in this status.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_command(shop: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """The newest emails first."""
    with runtime_of(current_app).session() as session:
        shop_id = None
        if shop is not None:
            found = find_shop(session, shop)
            if found is None:
                raise click.ClickException(f"shop not found: {shop}")
            shop_id = found.id
        rows = [summary(row) for row in list_messages(session, shop_id=shop_id, status=status, limit=limit)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['id']:>6} {row['status']:<11} {row['created_at']:<28} {row['template']:<14} "
            f"{row['recipient']:<32} {row['subject']}"
        )


@outbox.command("show")
@click.argument("outbox_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show_command(outbox_id: int, as_json: bool) -> None:
    """One email: headers, status, attempts, error, and both parts."""
    with runtime_of(current_app).session() as session:
        row = get_message(session, outbox_id)
        if row is None:
            raise click.ClickException(f"email not found: {outbox_id}")
        shown = detail(row)
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    for key in (
        "id",
        "status",
        "template",
        "category",
        "recipient",
        "sender_name",
        "sender_address",
        "reply_to",
        "subject",
        "message_id",
        "unsubscribe_url",
        "attempts",
        "error",
        "created_at",
        "send_after",
        "sent_at",
    ):
        if shown[key] is not None:
            click.echo(f"{key}: {shown[key]}")
    click.echo("\n--- text ---\n" + shown["text_body"])
    if shown["html_body"]:
        click.echo("\n--- html ---\n" + shown["html_body"])
