"""``flask --app integration …`` commands."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    from integration.cli import checkins, customers, events, keys, ops, outbox, processes, reps, shops

    app.cli.add_command(shops.shops)
    app.cli.add_command(events.events)
    app.cli.add_command(customers.customers)
    app.cli.add_command(reps.reps)
    app.cli.add_command(checkins.checkins)
    app.cli.add_command(keys.keys)
    app.cli.add_command(outbox.outbox)
    app.cli.add_command(ops.ops)
    app.cli.add_command(processes.db)
    app.cli.add_command(processes.worker)
    app.cli.add_command(processes.scheduler)
    app.cli.add_command(processes.serve)
