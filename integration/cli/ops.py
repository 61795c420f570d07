"""``ops``: the accounts of the people who use the ops console (``/ops``)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from integration import runtime_of
from integration.ops.accounts import AccountError, create_user, delete_user, list_users


@click.group(cls=AppGroup)
def ops() -> None:
    """Ops console accounts."""


@ops.command("create-user")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of standard input.")
def create_user_command(email: str, password_stdin: bool) -> None:
    """Create an ops user; the password is asked for (twice), or read from standard input."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with runtime_of(current_app).session() as db:
            made = create_user(db, email, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created ops user {made.email}")


@ops.command("users")
@click.argument("action", type=click.Choice(["list"]), default="list")
def users_command(action: str) -> None:
    """List ops users (``ops users list``)."""
    with runtime_of(current_app).session() as db:
        users = list_users(db)
        rows = [(u.email, u.created_at, u.last_sign_in_at) for u in users]
    if not rows:
        click.echo("no ops users")
        return
    click.echo(f"{'EMAIL':<40} {'CREATED':<26} LAST SIGN-IN")
    for email, created, last in rows:
        click.echo(f"{email:<40} {created:%Y-%m-%d %H:%M:%S}Z{'':<7} {f'{last:%Y-%m-%d %H:%M:%S}Z' if last else '-'}")


@ops.command("delete-user")
@click.argument("email")
def delete_user_command(email: str) -> None:
    """Delete an ops user (their sessions end with their next request)."""
    with runtime_of(current_app).session() as db:
        deleted = delete_user(db, email)
    if not deleted:
        raise click.ClickException("no such ops user")
    click.echo("deleted")
