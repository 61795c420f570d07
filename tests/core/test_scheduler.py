"""The scheduler process: relays events, enqueues the sweep on RQ's cron, outlives outages."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import pytest
import sqlalchemy as sa
from rq import Worker

from integration.core.config import Settings
from integration.core.queues import BULK, EVENTS, MAINTENANCE, batch_job_id
from integration.core.redis_server import EmbeddedRedis
from integration.core.runtime import Runtime
from integration.core.scheduler import Scheduler
from integration.events.intake import EventIntake
from integration.events.models import EventStatus, WebhookEvent
from tests.helpers import ROOT, add_shop, bin_path, fixture_bytes, settings_env, store_shopify_event, wait_until

ORDER = fixture_bytes("shopify/shopify_orders_create.json")


def test_a_tick_relays_waiting_events_and_enqueues_the_sweep(runtime: Runtime, intake: EventIntake) -> None:
    event_id = store_shopify_event(intake, ORDER, webhook_id="sched-1")
    scheduler = Scheduler(runtime)
    assert scheduler.tick() == 1
    assert runtime.queue(EVENTS).job_ids == [batch_job_id([event_id])]
    cron_jobs = sorted(job.func_name for job in runtime.queue(MAINTENANCE).get_jobs())
    assert cron_jobs == [
        "jobs.events.sweep_events",
        "jobs.messaging.relay_outbox",
        "jobs.reps.morning_digests",
        "jobs.reps.return_away_reps",
        "jobs.reps.sweep_checkins",
        "jobs.shops.check_all_subscriptions",
        "jobs.sync.fetch_all_product_types",
        "jobs.sync.reconcile_all",
        "jobs.sync.write_back_all",
    ]
    # Nothing new: nothing relayed, and no job is due again until its interval has passed.
    assert scheduler.tick() == 0
    assert len(runtime.queue(MAINTENANCE).get_jobs()) == len(cron_jobs)
    # The segments job reads every profile: bulk work, queued where it never delays events.
    assert [job.func_name for job in runtime.queue(BULK).get_jobs()] == ["jobs.customers.refresh_segments"]


def test_the_loop_waits_out_a_redis_outage_instead_of_exiting(
    settings: Settings, short_tmp: object, intake: EventIntake
) -> None:
    own = EmbeddedRedis(settings.instance_path / "r", socket_path=settings.instance_path / "r.sock")
    own.start()
    runtime = Runtime.from_settings(settings.replace(redis_url=own.url))
    scheduler = Scheduler(runtime)
    own.kill()
    event_id = store_shopify_event(intake, ORDER, webhook_id="sched-1")
    thread = threading.Thread(target=scheduler.run_loop, daemon=True)
    thread.start()
    try:
        wait_until(lambda: thread.is_alive(), message="loop running")
        own.start()  # back: the loop reconnects and relays what waited
        wait_until(lambda: runtime.redis.lrange(f"rq:queue:{EVENTS}", 0, -1) != [], timeout=30, message="relay")
        with runtime.session() as session:
            assert session.get(WebhookEvent, event_id).queued_at is not None  # type: ignore[union-attr]
    finally:
        scheduler.stop()
        thread.join(timeout=10)
        own.stop()
        runtime.close()
    assert not thread.is_alive()


@pytest.mark.slow
def test_the_scheduler_command_relays_until_sigterm(settings: Settings, runtime: Runtime, intake: EventIntake) -> None:
    add_shop(runtime)
    event_id = store_shopify_event(intake, ORDER, webhook_id="sched-1")
    process = subprocess.Popen(
        [bin_path("flask"), "--app", "integration", "scheduler"],
        env=settings_env(settings),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: runtime.queue(EVENTS).job_ids == [batch_job_id([event_id])], message="relayed")
    finally:
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    with runtime.session() as session:
        status = session.scalar(sa.select(WebhookEvent.status).where(WebhookEvent.id == event_id))
    assert status == EventStatus.RECEIVED  # queued, for a worker to process


class _InterruptedWhileStarting(Worker):
    """A worker that gets Ctrl-C at the worst moment: registered, its scheduler starting, RQ's own signal
    handlers not yet installed (a terminal's Ctrl-C reaches every process of the group at once)."""

    def _start_scheduler(self, *args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        super()._start_scheduler(*args, **kwargs)  # type: ignore[arg-type]


def test_a_stop_signal_while_the_worker_starts_still_unregisters_it(runtime: Runtime, settings: Settings) -> None:
    """Regression: the signal raised KeyboardInterrupt outside RQ's try/finally and the worker stayed in
    RQ's registry for good (seen as a leftover registration after an orderly Ctrl-C of `serve`). Run as
    the Procfile runs a worker, in a process of its own: RQ forks its scheduler, which a test process
    with threads of its own (xdist's) must not do."""
    done = subprocess.run(
        [
            bin_path("flask"),
            "--app",
            "integration",
            "worker",
            "--queues",
            "events",
            "--worker-class",
            f"{__name__}._InterruptedWhileStarting",
        ],
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    # Before the fix: KeyboardInterrupt (exit 1 with a traceback), and the registration stayed.
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert Worker.all(connection=runtime.redis) == []


# A child that is slow to come up after the fork, as RQ's scheduler child is on a loaded machine: the
# worker's SIGTERM reaches it before the child has done anything of its own.
_FORK_A_SLOW_CHILD_AND_STOP_IT = """
import os, signal, sys, time
from integration.core.scheduler import _stop_cleanly_while_starting

class Starting:
    _stop_requested = False

os.register_at_fork(after_in_child=lambda: time.sleep(0.5))  # runs before the worker's own fork hook
_stop_cleanly_while_starting(Starting())
pid = os.fork()
if pid == 0:
    time.sleep(10)
    os._exit(0)
os.kill(pid, signal.SIGTERM)  # as RQ's stop_scheduler does
_, status = os.waitpid(pid, 0)
print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}")
"""


def test_a_child_forked_while_the_worker_starts_is_stopped_by_the_first_sigterm() -> None:
    """Regression (seen in CI, `serve` stopped while its bulk worker was starting): the child inherited the
    worker's start-up handler, the SIGTERM meant to stop it was spent there, and the child ran on while
    the worker waited for it; `serve` had to kill both."""
    done = subprocess.run(
        [bin_path("python"), "-c", _FORK_A_SLOW_CHILD_AND_STOP_IT], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.stdout.strip() == str(int(signal.SIGTERM)), done.stdout + done.stderr
