"""Periodic and per-shop jobs, each declared once beside its domain (``<domain>/tasks.py``).

A :class:`PerShopJob` is everything about one kind of per-shop job: the dotted path RQ runs, the job-id
prefix that keeps one per shop at a time, its timeout, retries and queue. A :class:`Periodic` is a cron
entry the scheduler enqueues on its cadence (usually a fan-out that enqueues one per-shop job per shop).
The scheduler, uninstall (which cancels a shop's jobs) and ops read them from :data:`TASK_MODULES`, by
dotted path, so core/ never imports the domains above it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rq import Retry

from integration.core.config import Settings
from integration.core.queues import MAINTENANCE

TASK_MODULES = (
    "integration.events.tasks",
    "integration.customers.tasks",
    "integration.shops.tasks",
    "integration.sync.tasks",
    "integration.reps.tasks",
    "integration.messaging.tasks",
)

# A per-shop job that has more to do enqueues its continuation under the other of its two ids, so the
# cron (which skips a shop while either is pending) never starts a second run beside it.
CONTINUATION_SUFFIX = "-next"


@dataclass(frozen=True)
class PerShopJob:
    func: str  # dotted path, ``jobs.<domain>.<name>``, called with the shop's id
    prefix: str  # job id ``{prefix}-{shop_id}``
    timeout: int  # seconds
    queue: str
    retry_intervals: tuple[int, ...] = ()  # backoff after a transient failure; the next cron run follows anyway

    def job_id(self, shop_id: int) -> str:
        return f"{self.prefix}-{shop_id}"

    def job_ids(self, shop_id: int) -> tuple[str, str]:
        """Both ids one shop's job can have: the cron's and its continuation's."""
        return self.job_id(shop_id), self.job_id(shop_id) + CONTINUATION_SUFFIX

    def retry(self) -> Retry | None:
        intervals = list(self.retry_intervals)
        return Retry(max=len(intervals), interval=intervals) if intervals else None


@dataclass(frozen=True)
class Periodic:
    func: str  # dotted path of the cron job
    every: Callable[[Settings], int]  # seconds between runs, from the settings
    timeout: int
    queue: str = MAINTENANCE  # short jobs (the sweep, fan-outs): served first, never behind bulk work


def every(seconds: int) -> Callable[[Settings], int]:
    return lambda _settings: seconds


def _modules() -> Iterator[object]:
    for name in TASK_MODULES:
        yield importlib.import_module(name)


def periodic_jobs() -> list[Periodic]:
    return [job for module in _modules() for job in getattr(module, "PERIODIC", ())]


def per_shop_jobs() -> list[PerShopJob]:
    return [job for module in _modules() for job in getattr(module, "PER_SHOP", ())]


def all_per_shop_job_ids(shop_id: int, jobs: Sequence[PerShopJob] | None = None) -> list[str]:
    """Every job id a shop's per-shop jobs can have (what an uninstall cancels)."""
    return [job_id for job in (jobs if jobs is not None else per_shop_jobs()) for job_id in job.job_ids(shop_id)]
