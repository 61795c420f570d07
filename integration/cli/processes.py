"""The long-running processes and the database: ``db upgrade``, ``worker``, ``scheduler``, ``serve``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from integration import runtime_of
from integration.core.config import PROJECT_ROOT, mask_url
from integration.core.queues import WORKER_KINDS


@click.group(cls=AppGroup)
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade_command(revision: str) -> None:
    """Apply Alembic migrations (the Procfile's release step)."""
    from integration.core.migrate import upgrade

    settings = runtime_of(current_app).settings
    upgrade(settings.database_url, revision, settings.token_encryption_key)
    click.echo("database is up to date")


@click.command()
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--worker-class", default="rq.Worker", show_default=True, help="rq.SimpleWorker avoids a fork per job.")
@click.option(
    "--queues",
    "kind",
    type=click.Choice(sorted(WORKER_KINDS)),
    default="all",
    show_default=True,
    help="events: the sweep, fan-outs and webhooks; bulk: reconciliation, backfill, write-back, catalogue.",
)
def worker(burst: bool, worker_class: str, kind: str) -> None:
    """Run an RQ worker (with RQ's scheduler) on its queues, in priority order."""
    from integration.core.scheduler import run_worker

    run_worker(runtime_of(current_app), burst=burst, worker_class=worker_class, kind=kind)


@click.command()
@with_appcontext
def scheduler() -> None:
    """Relay stored events to RQ and enqueue the periodic sweep."""
    from integration.core.scheduler import Scheduler

    Scheduler(runtime_of(current_app)).run()


@click.command()
@with_appcontext
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8000")), show_default="$PORT or 8000")
@click.option("--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="$HOST or 127.0.0.1")
def serve(port: int, host: str) -> None:
    """Everything `make run` starts: migrations, the embedded Redis (unless REDIS_URL is set), then
    web + worker + scheduler under honcho. Ctrl-C stops it all, Redis last."""
    from integration.core.migrate import upgrade
    from integration.core.redis_server import EmbeddedRedis

    settings = runtime_of(current_app).settings
    upgrade(settings.database_url, token_encryption_key=settings.token_encryption_key)
    embedded = (
        EmbeddedRedis(settings.redis_socket.parent, socket_path=settings.redis_socket)
        if settings.embedded_redis
        else None
    )
    if embedded is not None:
        embedded.start()
    # The Procfile names gunicorn and flask bare: they must resolve to this virtualenv's, however
    # we were started (make run does not activate the venv).
    bin_dir = os.path.dirname(sys.executable)
    path = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    env = dict(os.environ, REDIS_URL=settings.effective_redis_url, PORT=str(port), HOST=host, PATH=path)
    honcho = shutil.which("honcho", path=bin_dir) or "honcho"
    database = mask_url(settings.database_url)
    click.echo(f"Personal Commerce listening on http://{host}:{port}")
    click.echo(f"  database: {database}")
    click.echo(f"  redis:    {'embedded, ' if embedded else ''}{mask_url(settings.effective_redis_url)}")
    click.echo("  Ctrl-C stops web, the events and bulk workers, the scheduler and the embedded Redis.")
    process = subprocess.Popen(
        # honcho hands $PORT to each process from -p upwards; web is first, so it gets ours.
        [
            honcho,
            "start",
            "-p",
            str(port),
            "-f",
            str(PROJECT_ROOT / "Procfile"),
            "web",
            "worker",
            "bulk",
            "scheduler",
        ],
        env=env,
        cwd=PROJECT_ROOT,
    )
    try:
        process.wait()
    except KeyboardInterrupt:
        process.wait()  # honcho got the same Ctrl-C and is stopping its children
    finally:
        if embedded is not None:
            embedded.stop()
    click.echo("stopped")
