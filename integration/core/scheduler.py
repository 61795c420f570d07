"""The scheduler process: relays new events to RQ and enqueues the periodic sweep.

The relay polls the database (a partial index makes an empty poll a few microseconds) and hands
new rows to RQ in batches. The sweep is registered with RQ's ``CronScheduler`` and runs as a job on
the maintenance queue. Outages of Redis or the database are waited out here, never fatal: exiting
would only get this process restarted (by `serve` or the platform) into the same outage.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from types import FrameType

import redis
from rq.cron import CronScheduler
from sqlalchemy.exc import SQLAlchemyError

from integration.core.health import SCHEDULER_BEAT, beat_scheduler
from integration.core.periodic import periodic_jobs
from integration.core.runtime import Runtime
from integration.events.dispatch import relay_once

log = logging.getLogger(__name__)

# An idle RQ worker beats once per ``worker_ttl - 15`` seconds (RQ's default TTL, 420 s, would make it
# 405 s): 35 s makes it 20 s, so /readyz can ask for a heartbeat within the last minute.
WORKER_TTL = 35
IDLE_POLL = 0.1  # seconds between polls when there was nothing to relay
MAX_BACKOFF = 10.0


class Scheduler:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stopping = threading.Event()
        self.cron = self._cron()
        self._last_beat = -float(SCHEDULER_BEAT)

    def _cron(self) -> CronScheduler:
        from werkzeug.utils import import_string

        settings = self.runtime.settings
        cron = CronScheduler(connection=self.runtime.redis, name="personal-commerce-scheduler")
        # Each domain declares its periodic jobs in its tasks module (integration.core.periodic).
        for job in periodic_jobs():
            cron.register(
                import_string(job.func),
                queue_name=job.queue,
                interval=job.every(settings),
                job_timeout=job.timeout,
                result_ttl=3600,
            )
        return cron

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        log.info("scheduler stopping")
        self.stopping.set()

    def tick(self) -> int:
        """One round: relay what is waiting, enqueue due cron jobs. Returns events relayed."""
        now = time.monotonic()
        if now - self._last_beat >= SCHEDULER_BEAT:
            beat_scheduler(self.runtime.redis)  # /readyz: the scheduler is running
            self._last_beat = now
        relayed = relay_once(self.runtime)
        self.cron.enqueue_jobs()
        return relayed

    def run(self) -> None:
        """Run until SIGTERM or SIGINT (the process entry point)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.run_loop()

    def run_loop(self) -> None:
        log.info("scheduler started: relaying events, sweeping every %ss", self.runtime.settings.sweep_interval)
        backoff = 0.0
        while not self.stopping.is_set():
            try:
                relayed = self.tick()
            except (redis.RedisError, OSError, SQLAlchemyError) as exc:
                backoff = min(MAX_BACKOFF, backoff * 2 or 0.5)
                log.warning("scheduler: %s unavailable (%s); retrying in %.1fs", _which(exc), exc, backoff)
                self.stopping.wait(backoff)
                continue
            if backoff:
                log.info("scheduler: connections are back")
                backoff = 0.0
            if relayed:
                log.debug("relayed %d events", relayed)
            else:
                self.stopping.wait(IDLE_POLL)


def _which(exc: BaseException) -> str:
    return "database" if isinstance(exc, SQLAlchemyError) else "redis"


def run_worker(
    runtime: Runtime,
    *,
    burst: bool = False,
    worker_class: str = "integration.core.worker.WarmWorker",
    kind: str = "all",
    warm: bool = True,
) -> bool:
    """Run an RQ worker on the queues of ``kind`` (``WORKER_KINDS``), in priority order, with RQ's scheduler
    (needed for Retry intervals and events that stepped aside). ``warm``: import and fill what every job
    needs first, once (``integration.core.worker``), so no job pays it."""
    from werkzeug.utils import import_string

    from integration.core.queues import WORKER_KINDS
    from integration.core.worker import warm_up
    from integration.ops.worker import metered

    if warm:
        warm_up(runtime)
    cls = metered(import_string(worker_class))
    queues = [runtime.queue(name) for name in WORKER_KINDS[kind]]
    worker = cls(queues, connection=runtime.redis, worker_ttl=WORKER_TTL)
    _stop_cleanly_while_starting(worker)
    started = time.monotonic()
    result: bool = worker.work(burst=burst, with_scheduler=True, logging_level=runtime.settings.log_level)
    log.info("worker stopped after %.1fs", time.monotonic() - started)
    return result


def _stop_cleanly_while_starting(worker: object) -> None:
    """A stop signal during ``Worker.work()``'s start-up leaves the worker registered for good.

    RQ registers the worker (``bootstrap``), forks its scheduler, and only then installs its own SIGINT and
    SIGTERM handlers and enters the ``try``/``finally`` that unregisters it. A terminal's Ctrl-C reaches
    every process of the group at once, so a worker still starting got Python's KeyboardInterrupt there
    and left its registration in Redis. Until RQ's handlers replace these, a signal only asks the loop
    to stop before its first job, which then unregisters the worker as any orderly stop does.
    """
    if not hasattr(worker, "_stop_requested"):  # RQ's flag, checked at the top of its loop
        raise RuntimeError("this RQ version has no _stop_requested; review _stop_cleanly_while_starting")

    def request_stop(signum: int, frame: FrameType | None) -> None:
        worker._stop_requested = True

    stop_signals = {signal.SIGINT, signal.SIGTERM}

    def before_fork() -> None:
        # A stop signal must not reach a child while it still has request_stop: Python would run that
        # handler (on the child's copy of the worker, to no effect) and the signal would be spent. RQ's
        # worker sends its scheduler child SIGTERM as soon as it stops, which can be before the child has
        # run a single line; that SIGTERM was lost and the worker waited for its scheduler forever (a
        # worker stopped while starting never exited). Blocked here, a signal waits in the child until
        # the defaults are back.
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    def in_the_parent() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)  # a waiting signal runs request_stop now

    def in_a_forked_child() -> None:
        # RQ forks its scheduler (and work horses) from the worker: a child must not keep this handler,
        # or the SIGTERM that stops it would only set a flag in its copy of the worker. Children get the
        # defaults, as before; RQ's own code then installs what it wants in them.
        if signal.getsignal(signal.SIGTERM) is request_stop:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if signal.getsignal(signal.SIGINT) is request_stop:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)

    os.register_at_fork(before=before_fork, after_in_parent=in_the_parent, after_in_child=in_a_forked_child)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
