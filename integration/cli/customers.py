"""``customers``: profiles as support and scripts see them."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from integration import runtime_of
from integration.customers.views import find_customer, find_shop, list_customers, profile, summary

SEGMENTS = click.Choice(["prospect", "new", "returning", "vip", "lapsed"])


@click.group(cls=AppGroup)
def customers() -> None:
    """Customer profiles."""


@customers.command("show")
@click.argument("shop")
@click.argument("email_or_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(shop: str, email_or_id: str, as_json: bool) -> None:
    """Show one profile with its orders and timeline. SHOP: Shopify domain or BigCommerce store hash."""
    with runtime_of(current_app).session() as session:
        found_shop = find_shop(session, shop)
        if found_shop is None:
            raise click.ClickException(f"shop not found: {shop}")
        customer = find_customer(session, found_shop, email_or_id)
        if customer is None:
            click.echo("customer not found", err=True)
            raise SystemExit(1)
        data = profile(session, customer)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{data['name'] or '(no name)'} <{data['email'] or 'no email'}>  {data['phone'] or ''}".rstrip())
    place = ", ".join(p for p in (data["city"], data["region"], data["country"]) if p) or "place unknown"
    click.echo(f"  {place}; time zone {data['time_zone'] or 'unknown'} (from {data['time_zone_source'] or '-'})")
    click.echo(
        f"  {data['segment']}: {data['orders_count']} order(s), {data['total_spent']} {data['currency'] or ''}; "
        f"first {data['first_order_at'] or '-'}, last {data['last_order_at'] or '-'}"
    )
    if data["products"]:
        click.echo("  bought most: " + ", ".join(f"{p['title']} x{p['quantity']}" for p in data["products"]))
    if data["product_types"]:
        types = ", ".join(f"{t['product_type']} x{t['quantity']}" for t in data["product_types"])
        click.echo(f"  types bought most: {types}")
    for entry in data["timeline"]:
        click.echo(f"  {entry['at']}  {entry['summary']}")


@customers.command("list")
@click.argument("shop")
@click.option("--segment", type=SEGMENTS)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_command(shop: str, segment: str | None, as_json: bool) -> None:
    """List profiles (without orders and timeline)."""
    with runtime_of(current_app).session() as session:
        found_shop = find_shop(session, shop)
        if found_shop is None:
            raise click.ClickException(f"shop not found: {shop}")
        rows = [summary(c) for c in list_customers(session, found_shop, segment)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['id']:>7}  {(row['email'] or '-'):<36} {(row['name'] or '-')[:28]:<28} "
            f"{row['segment']:<10} {row['orders_count']:>4} {row['total_spent']:>12} {row['time_zone'] or '-'}"
        )
