"""The worker processes' RQ worker: warmed once, then every job runs in that process (no fork per job).

RQ's default ``Worker`` forks a work horse for every job, so each job paid the fork, the imports of its
domain, a new database connection and the cold caches again (the time-zone data alone is ~470 ms), and
the events worker finished 2 to 3.5 events a second. Preloading in the parent and keeping the fork still
costs ~9 ms per job (RQ's no-op job: 83 jobs/s forking against ~330 without), so the workers do not fork:

* ``WarmWorker`` is RQ's ``SimpleWorker`` (the job runs in the worker process) after :func:`warm_up` has
  imported what every job needs and filled the caches, once per process.
* Isolation comes from elsewhere. RQ still enforces each job's timeout inside the process (SIGALRM raises
  ``JobTimeoutException`` in the job), a job's session and transaction are its own (``Runtime.session``),
  and a worker that dies mid-job loses nothing: the sweep hands its events back after the processing
  timeout and re-queues what Redis lost. A worker that crashes is restarted by ``serve`` or the platform.
* The orderly stop is RQ's: SIGTERM lets the current job finish, then the worker unregisters.

``flask --app integration worker --worker-class rq.Worker`` brings the forking worker back (still warmed
in the parent, so each horse starts with the caches full).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time

from rq.worker import SimpleWorker
from werkzeug.utils import import_string

from integration.core.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_WORKER_CLASS = "integration.core.worker.WarmWorker"
# Jobs are named by dotted path (integration/ never imports jobs/ statically); importing the package's
# modules here is what the first job of each kind would otherwise do.
JOB_PACKAGE = "jobs"
# What each domain warms, by dotted path (core does not import the domains above it).
WARM_UPS = (
    "integration.customers.timezones:warm",
    "integration.events.processing:warm",
)


def warm_up(runtime: Runtime) -> float:
    """Import every job module and run the domains' warm-ups; returns the seconds it took.

    The CLI's worker passes ``get_runtime()``, the runtime its jobs use, so its pool and Redis client
    are the ones warmed."""
    started = time.monotonic()
    package = importlib.import_module(JOB_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{JOB_PACKAGE}.{module.name}")
    for path in WARM_UPS:
        import_string(path)(runtime)
    took = time.monotonic() - started
    log.info("worker warmed up in %.2fs", took)
    return took


class WarmWorker(SimpleWorker):
    """RQ's SimpleWorker: no fork per job (see the module's docstring for how isolation is kept)."""
