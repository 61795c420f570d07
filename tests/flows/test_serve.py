"""``flask --app integration serve``: what ``make run`` starts, started the way make starts it, on a
fresh instance folder with the keys in the environment, and stopped or broken the way machines do."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from rq import Worker

from integration.core.redis_server import EmbeddedRedis
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import (
    ROOT,
    SHOP_DOMAIN,
    SHOPIFY_SECRET,
    TEST_TOKEN_KEY,
    bin_path,
    descendants,
    fixture_bytes,
    free_port,
    shopify_headers,
    wait_until,
)

pytestmark = pytest.mark.slow

EVENTS_WORKER = "integration worker --queues events"  # the Procfile's `worker`
PROCESSES = [line.split(":")[0] for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line]
SUPERVISED = [name for name in PROCESSES if name != "release"]


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or too busy booting to answer
        return False


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it has stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class Serve:
    process: subprocess.Popen[bytes]
    instance: Path
    port: int
    log: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def database(self) -> Path:
        return self.instance / "personal_commerce.db"

    def child(self, words: str) -> int:
        """The pid of the one process serve started whose command line holds ``words`` (the topmost:
        RQ's scheduler child has its parent's command line)."""
        found = [pid for pid in descendants(self.process.pid) if words in _cmdline(pid)]
        found = [pid for pid in found if _parent(pid) not in found]
        assert len(found) == 1, (words, found)
        return found[0]

    def stop(self, signum: int = signal.SIGTERM, *, group: bool = False, timeout: float = 60) -> int:
        (os.killpg if group else os.kill)(self.process.pid, signum)
        return self.process.wait(timeout=timeout)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


@pytest.fixture
def serve(short_tmp: Path, fake_shopify: FakeShopify) -> Iterator[Serve]:
    """``serve`` on a fresh checkout's terms: the keys in the environment, no instance folder yet,
    the default embedded SQLite and Redis, and a PATH without the virtualenv (make does not activate it)."""
    instance = short_tmp / f"serve-{time.monotonic_ns()}" / "instance"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "BIGCOMMERCE_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "APP_ENV"):
        env.pop(name, None)
    env.update(
        SECRET_KEY="serve-test-secret-key-0123456789abcdef",
        TOKEN_ENCRYPTION_KEY=TEST_TOKEN_KEY,
        INSTANCE_PATH=str(instance),
        SHOPIFY_API_SECRET=SHOPIFY_SECRET,
        # A shop added here gets its backfill and subscription check at once: against the fake.
        SHOPIFY_ADMIN_URL=fake_shopify.admin_url_template,
        PATH="/usr/bin:/bin",
        PYTHONPATH=str(ROOT),
        WEB_CONCURRENCY="1",
        LOG_LEVEL="INFO",
        # An event Redis handed to the killed worker's connection is the sweep's to re-queue: soon.
        STALE_AFTER="3",
        SWEEP_INTERVAL="2",
    )
    log = instance.parent / "serve.log"
    log.parent.mkdir(parents=True)
    with log.open("wb") as out:  # a file, not a pipe: a pipe nobody reads would block serve
        process = subprocess.Popen(
            [bin_path("flask"), "--app", "integration", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Serve(process, instance, port, log, env)
    try:
        try:
            wait_until(lambda: _ready(f"{running.url}/readyz"), timeout=60, message="ready")
        except AssertionError:
            pytest.fail(f"serve did not get ready; it printed:\n{running.output}")
        yield running
    finally:
        if process.poll() is None:  # a failed test: take everything down hard
            for pid in [*descendants(process.pid), process.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait()


@pytest.mark.parametrize(
    ("signum", "group"),
    [
        (signal.SIGTERM, False),
        (signal.SIGINT, False),
        # Once left a worker registered: Ctrl-C reached a worker still starting, before RQ's own signal
        # handlers (core/scheduler.py's _stop_cleanly_while_starting; tests/core/test_scheduler.py).
        (signal.SIGINT, True),
    ],
    ids=["SIGTERM", "SIGINT", "Ctrl-C-to-the-foreground-group"],
)
def test_a_signal_to_serve_stops_everything_in_order_redis_last(serve: Serve, signum: int, group: bool) -> None:
    """Regression: SIGTERM killed serve at once, the embedded Redis followed it (parent-death signal)
    while honcho, gunicorn, the worker and the scheduler ran on without it until the worker crashed
    with a traceback; SIGINT to serve alone stopped nothing. A supervisor, `timeout`, `docker stop` or
    systemd signal that one process; a terminal's Ctrl-C signals the whole foreground group."""
    wait_until(lambda: descendants(serve.child(EVENTS_WORKER)), timeout=30, message="the worker's RQ scheduler")
    started = descendants(serve.process.pid)
    # redis, and below the Procfile's processes at least gunicorn's worker and the RQ scheduler child
    assert len(started) >= len(SUPERVISED) + 3

    code = serve.stop(signum, group=group)

    output = serve.output
    assert code == 0, output
    assert not [pid for pid in started if _alive(pid)], output
    assert "Traceback" not in output
    assert f"listening on http://127.0.0.1:{serve.port}" in output
    stopped = [line.split(" stopped")[0].split()[-1] for line in output.splitlines() if " stopped (" in line]
    assert sorted(stopped[:-1]) == sorted(SUPERVISED) and stopped[-1] == "redis", output
    assert not (serve.instance / "redis" / "redis.sock").exists()
    # The workers stopped while Redis was still there: each took itself off RQ's worker registry (on
    # disk in the append-only file Redis flushed as it stopped last).
    with EmbeddedRedis(serve.instance / "redis") as redis_again, redis_again.client() as client:
        assert Worker.all(connection=client) == []


def test_a_killed_worker_is_restarted_its_orphans_ended_and_events_processed_again(
    serve: Serve, fake_shopify: FakeShopify
) -> None:
    """Regression: with the worker SIGKILLed, honcho either took the whole stack down or (with the
    worker's RQ scheduler child orphaned) nothing processed an event again until a person restarted it."""
    fake_shopify.add_shop(SHOP_DOMAIN, "shpat_serve")
    add = ["shops", "add", "--platform", "shopify", "--domain", SHOP_DOMAIN, "--token", "shpat_serve"]
    subprocess.run(
        [bin_path("flask"), "--app", "integration", *add],
        env=serve.env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    worker = serve.child(EVENTS_WORKER)
    wait_until(lambda: descendants(worker), timeout=30, message="the worker's RQ scheduler")
    orphans_to_be = descendants(worker)

    os.kill(worker, signal.SIGKILL)

    body = fixture_bytes("shopify/shopify_orders_create.json")
    answer = requests.post(
        f"{serve.url}/webhooks/shopify", data=body, headers=shopify_headers(body, webhook_id="after-kill"), timeout=10
    )
    assert answer.status_code == 200  # the web kept running

    def status() -> str | None:
        with contextlib.closing(sqlite3.connect(serve.database, timeout=5)) as db:
            row = db.execute("SELECT status FROM webhook_events WHERE webhook_id = 'after-kill'").fetchone()
        return None if row is None else str(row[0])

    try:
        wait_until(lambda: status() == "done", timeout=60, interval=0.2, message="the event processed")
    except AssertionError:
        pytest.fail(f"the event is {status()}, not done; serve printed:\n{serve.output}")
    assert not [pid for pid in orphans_to_be if _alive(pid)], serve.output
    assert serve.child(EVENTS_WORKER) != worker
    assert "worker exited unexpectedly" in serve.output
    assert "restarting" in serve.output

    code = serve.stop()
    assert code == 0, serve.output
    assert "Traceback" not in serve.output


def test_serve_lists_what_it_runs_from_the_procfile(serve: Serve) -> None:
    """Procfile and serve agree: every process but the release step runs, under its Procfile name."""
    output = serve.output
    assert "web" in SUPERVISED and "worker" in SUPERVISED
    for name in SUPERVISED:
        assert f"{name} started" in output, output
    assert "release started" not in output
    assert serve.stop() == 0
