"""The long-running processes and the database: ``db upgrade``, ``worker``, ``scheduler``, ``serve``."""

from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from integration import runtime_of
from integration.cli.supervisor import DEFAULT_GRACE, Supervisor, read_procfile, shell_command
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
@click.option(
    "--worker-class",
    default="integration.core.worker.WarmWorker",
    show_default=True,
    help="Warmed once, no fork per job; rq.Worker forks a work horse per job.",
)
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
    from integration.core.runtime import get_runtime
    from integration.core.scheduler import run_worker

    # The runtime jobs use (``get_runtime``, from the same environment as the app's): warming it warms
    # the jobs' engine and Redis client, and the process keeps one connection pool, not two.
    run_worker(get_runtime(), burst=burst, worker_class=worker_class, kind=kind)


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
@click.option(
    "--grace",
    type=click.FloatRange(min=1),
    default=DEFAULT_GRACE,
    show_default=True,
    help="Seconds the processes get to stop (finish their requests and jobs) before they are killed.",
)
def serve(port: int, host: str, grace: float) -> None:
    """Everything `make run` starts: migrations, the embedded Redis (unless REDIS_URL is set), then
    every process of the Procfile but `release`, supervised: one that exits is restarted. SIGTERM,
    SIGINT (Ctrl-C) or SIGHUP stops them all, Redis last; the exit status is 1 only if something had
    to be killed."""
    from integration.core.migrate import upgrade
    from integration.core.redis_server import EmbeddedRedis

    settings = runtime_of(current_app).settings
    upgrade(settings.database_url, token_encryption_key=settings.token_encryption_key)
    # The processes about to start write metrics files by pid; a previous run's (dead pids) would be
    # summed into every scrape for good (prometheus-client's advice: empty the folder before starting).
    from integration.core.telemetry import clear_dir

    clear_dir(settings.metrics_dir)
    # The Procfile names gunicorn and flask bare: they must resolve to this virtualenv's, however
    # we were started (make run does not activate the venv).
    bin_dir = os.path.dirname(sys.executable)
    path = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    env = dict(os.environ, REDIS_URL=settings.effective_redis_url, PORT=str(port), HOST=host, PATH=path)
    supervisor = Supervisor(grace=grace)
    if settings.embedded_redis:
        embedded = EmbeddedRedis(settings.redis_socket.parent, socket_path=settings.redis_socket)
        supervisor.add("redis", lambda: embedded.start().process, last=True)
    names = []
    for name, command in read_procfile(PROJECT_ROOT / "Procfile"):
        supervisor.add(name, shell_command(command, env, PROJECT_ROOT))
        names.append(name)
    click.echo(f"Personal Commerce listening on http://{host}:{port}")
    click.echo(f"  database: {mask_url(settings.database_url)}")
    click.echo(f"  redis:    {'embedded, ' if settings.embedded_redis else ''}{mask_url(settings.effective_redis_url)}")
    stopped = ", ".join(names) + (" and the embedded Redis" if settings.embedded_redis else "")
    click.echo(f"  Ctrl-C stops {stopped}.")
    sys.exit(supervisor.run())
