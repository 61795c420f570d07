"""Processing one stored event: claim it, translate it through its platform's adapter, apply it.

The database row is the source of truth for where an event stands. A claim is a conditional UPDATE, so
however many jobs exist for one event (a redelivered job, a sweep that re-enqueued it, an operator's
replay), at most one processes it at a time and a finished event is never processed again by accident.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import logging
import traceback
from collections.abc import Callable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.utils import import_string

from integration.core.batches import share_batch_cache
from integration.core.db import utcnow
from integration.core.logs import job_context
from integration.core.queues import (
    EVENTS,
    PROCESS_EVENT,
    PROCESS_EVENTS,
    RETRY_INTERVALS,
    event_job_id,
    event_retry,
    step_aside_job_id,
)
from integration.core.runtime import Runtime
from integration.customers.upserts import apply_change
from integration.events.changes import Change, ShopUninstalled, Skip
from integration.events.dispatch import queue_for
from integration.events.models import EventStatus, WebhookEvent
from integration.platforms.interfaces import (
    QUOTA_WAIT_LIMIT,
    Adapter,
    BadPayload,
    NotFoundAtPlatform,
    QuotaWait,
    ShopAccess,
    StoredEvent,
    TransientPlatformError,
)
from integration.shops.lifecycle import Verdict, confirm_uninstall
from integration.shops.models import Shop, ShopState, TokenState
from integration.shops.registry import find_shop, shop_access
from integration.shops.tokens import ShopNotInstalled, needs_refresh, processing_access

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000
# An uninstall notice whose shop's token the platform still accepts is checked this many times (the
# first retry comes RETRY_INTERVALS[0] later) before it is ignored: a platform may send the notice a
# moment before it revokes the token.
UNINSTALL_CHECKS = 2
# A call that would wait longer than this for its shop's API quota steps aside instead (QuotaWait): the
# event goes back to ``received`` and is scheduled for when the quota resets, so a throttled store never
# holds a worker while other shops' events wait.
STEP_ASIDE_AFTER = 1.0
SQLITE_EVENTS_PER_COMMIT = 4


class UninstallNotConfirmed(TransientPlatformError):
    """The platform still accepts the shop's token; asked again after a retry interval."""


class Outcome(enum.StrEnum):
    DONE = "done"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    NOT_CLAIMED = "not_claimed"  # another job has it, or it is already finished
    RETRY = "retry"  # transient failure; RQ or the sweep will try again
    STEPPED_ASIDE = "stepped_aside"  # the shop's API quota is spent: scheduled for when it resets
    FAILED = "failed"


class EventFailed(Exception):
    """Raised after recording a failed attempt, so that RQ applies its Retry policy."""


# What other domains do with each applied change, in the same transaction (so a change and its
# consequences commit together). Named by dotted path: events/ does not import the domains above it.
# The reps' first: the thank-you (messaging) is sent by the rep the customer was just given.
REACTIONS = ("integration.reps.reactions:after_change", "integration.messaging.reactions:after_change")
Reaction = Callable[[Session, int, Change], None]


@functools.cache
def reactions() -> tuple[Reaction, ...]:
    return tuple(import_string(path) for path in REACTIONS)


def warm(runtime: Runtime) -> None:
    """What the first event job of a worker would otherwise pay (``integration.core.worker``): the models,
    the adapters, the reactions' modules, a pooled database connection and the Redis client."""
    from integration.core.db import load_models

    load_models()
    default_adapters(runtime)
    reactions()
    with runtime.engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    runtime.redis.ping()


@dataclasses.dataclass(frozen=True)
class _Loaded:
    """A claimed event with what processing needs of it and of its shop (read in one transaction)."""

    event: StoredEvent
    attempts: int
    access: ShopAccess | None
    refresh_due: bool


@dataclasses.dataclass(frozen=True)
class _Ready:
    """A translated event whose changes are still to be applied."""

    event_id: int
    shop_id: int
    changes: tuple[Change, ...]


def default_adapters(runtime: Runtime) -> Mapping[str, Adapter]:
    from integration.platforms.registry import adapters

    return adapters(runtime)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR_LENGTH]


def _database_error(exc: BaseException) -> bool:
    # SQLAlchemy's own errors, and a driver's raised past it: their text can quote the values (bound
    # parameters; PostgreSQL's "Failing row contains (...)" and "Key (email)=(...)").
    return isinstance(exc, sa.exc.SQLAlchemyError) or type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg")


def _without_values(exc: BaseException, event_id: int) -> str:
    """What a database error may say about itself: its class and the event, never its message."""
    return f"{type(exc).__name__} while applying event {event_id} (values withheld)"


class EventProcessor:
    def __init__(self, runtime: Runtime, adapters: Mapping[str, Adapter] | None = None) -> None:
        self.runtime = runtime
        self.adapters = adapters if adapters is not None else default_adapters(runtime)

    def claim(self, event_id: int) -> bool:
        """Take the event from ``received`` to ``processing``; False if it is not ``received``.

        Events stuck in ``processing`` by a dead worker are handed back to ``received`` by the sweep.
        """
        return bool(self.claim_many([event_id]))

    def claim_many(self, event_ids: Sequence[int]) -> list[int]:
        """Claim those of ``event_ids`` that are ``received`` in one statement; returns the ids claimed.

        Two workers given the same ids (a sweep's re-queue racing the first job) each get a disjoint part:
        the UPDATE's condition is checked row by row under the row's write lock.
        """
        if not event_ids:
            return []
        with self.runtime.session() as session:
            claimed = session.scalars(
                sa.update(WebhookEvent)
                .where(WebhookEvent.id.in_(event_ids), WebhookEvent.status == EventStatus.RECEIVED)
                .values(
                    status=EventStatus.PROCESSING,
                    started_at=utcnow(),
                    attempts=WebhookEvent.attempts + 1,
                    retry_at=None,
                )
                .returning(WebhookEvent.id)
            )
            return sorted(claimed)

    def _finish(self, event_id: int, status: EventStatus, reason: str | None = None) -> None:
        with self.runtime.session() as session:
            session.execute(
                sa.update(WebhookEvent)
                .where(WebhookEvent.id == event_id)
                .values(status=status, last_error=reason, processed_at=utcnow())
            )

    def _record_failure(self, event_id: int, error: str, *, final: bool, retry_at: dt.datetime | None) -> None:
        with self.runtime.session() as session:
            session.execute(
                sa.update(WebhookEvent)
                .where(WebhookEvent.id == event_id)
                .values(
                    status=EventStatus.FAILED if final else EventStatus.RECEIVED,
                    last_error=error,
                    processed_at=utcnow() if final else None,
                    retry_at=retry_at,
                    # Counts as queued now: the sweep leaves it to RQ's retry until it is overdue.
                    queued_at=utcnow(),
                )
            )

    def _step_aside(self, event_id: int, exc: QuotaWait) -> None:
        """Back to ``received`` (the attempt not counted: nothing failed) and scheduled on RQ for when the
        quota resets. The sweep re-queues it should Redis lose the scheduled job."""
        delay = max(exc.retry_after or 0.0, 0.1)
        retry_at = utcnow() + dt.timedelta(seconds=delay)
        with self.runtime.session() as session:
            topic = session.scalar(sa.select(WebhookEvent.topic).where(WebhookEvent.id == event_id))
            session.execute(
                sa.update(WebhookEvent)
                .where(WebhookEvent.id == event_id)
                .values(
                    status=EventStatus.RECEIVED,
                    attempts=WebhookEvent.attempts - 1,
                    last_error=_short(exc),
                    retry_at=retry_at,
                    queued_at=utcnow(),
                )
            )
        # On the event's own queue: a backfill's read-back that steps aside stays bulk work.
        queue = self.runtime.queue(queue_for(topic or ""))
        func, args = (PROCESS_EVENTS, ([event_id],)) if queue.name == EVENTS else (PROCESS_EVENT, (event_id,))
        queue.enqueue_at(
            retry_at,
            func,
            args=args,
            job_id=step_aside_job_id(event_id, retry_at),
            job_timeout=self.runtime.settings.job_timeout,
            result_ttl=600,
            failure_ttl=30 * 24 * 3600,
            description=f"process webhook event {event_id} once its shop's API quota resets",
        )

    def process(self, event_id: int, retries_left: int | None = None) -> Outcome:
        """Process one event. ``retries_left`` is what RQ has left for this job (None: no retries).

        Returns the outcome; raises :class:`EventFailed` after recording a failure that RQ should
        retry or file as failed.
        """
        if not self.claim(event_id):
            log.info("event %s not claimed (already finished or being processed)", event_id)
            return Outcome.NOT_CLAIMED
        return self._guarded(event_id, retries_left, lambda: self._process_claimed(event_id))

    def process_batch(self, event_ids: Sequence[int]) -> dict[int, Outcome]:
        """Process several events in one job: one claim, one read of the rows and their shops, each event
        translated on its own (API calls happen outside any transaction), then the changes of all of them
        and their statuses in ONE transaction, in event order (several events of one customer apply in
        the order they were stored, as one at a time would). Should that transaction fail (one bad event,
        a deadlock with another worker), it is rolled back and each event is applied in a transaction of
        its own, so one bad event never holds back the others. An event that fails with attempts left is
        handed to a job of its own with RQ's Retry policy, as a single event's job would be retried."""
        outcomes: dict[int, Outcome] = dict.fromkeys(event_ids, Outcome.NOT_CLAIMED)
        claimed = self.claim_many(event_ids)
        loaded = self._load_many(claimed)
        max_attempts = self.runtime.settings.max_attempts
        retries = {i: max_attempts - loaded[i].attempts if i in loaded else 0 for i in claimed}
        ready: list[_Ready] = []
        for event_id in claimed:
            item = loaded.get(event_id)
            step = functools.partial(self._process_claimed, event_id, item, ready)
            outcomes[event_id] = self._attempt(event_id, retries[event_id], step)
        if ready:  # one cache of what the batch's events read alike (core.batches) for all its transactions
            for each in self._apply_together(ready, cache := dict[object, object]()):
                outcomes[each.event_id] = self._attempt(
                    each.event_id, retries[each.event_id], functools.partial(self._apply, each, cache)
                )
        return outcomes

    def _attempt(self, event_id: int, retries_left: int, step: Callable[[], Outcome]) -> Outcome:
        token = job_context.set({**(job_context.get() or {}), "event_id": event_id})  # lines name the event
        try:
            return self._guarded(event_id, retries_left, step)
        except EventFailed:
            if retries_left > 0:
                self._retry_alone(event_id, retries_left)
                return Outcome.RETRY
            return Outcome.FAILED
        finally:
            job_context.reset(token)

    def _apply_together(self, ready: Sequence[_Ready], cache: dict[object, object]) -> Sequence[_Ready]:
        """Apply the batch; returns the events whose transaction failed (rolled back), to apply one by one."""
        # SQLite has one write lock for the whole file, held from a transaction's first write to its
        # commit: a long batch transaction would make the web processes' INSERTs wait for it. There the
        # batch commits every few events; PostgreSQL locks rows, so a batch is one transaction.
        size = len(ready) if self.runtime.engine.dialect.name == "postgresql" else SQLITE_EVENTS_PER_COMMIT
        for start in range(0, len(ready), size):
            try:
                with self.runtime.session() as session:
                    share_batch_cache(session, cache)
                    for each in ready[start : start + size]:
                        self._apply_in(session, each)
                    self._mark_done(session, [each.event_id for each in ready[start : start + size]])
            except Exception:
                log.info("%d events did not apply together; applying each on its own", len(ready) - start)
                return ready[start:]
        return ()

    def _apply(self, ready: _Ready, cache: dict[object, object] | None = None) -> Outcome:
        with self.runtime.session() as session:
            share_batch_cache(session, {} if cache is None else cache)
            self._apply_in(session, ready)
            self._mark_done(session, [ready.event_id])
        return Outcome.DONE

    def _apply_in(self, session: Session, ready: _Ready) -> None:
        for change in ready.changes:
            if not isinstance(change, ShopUninstalled):
                apply_change(session, ready.shop_id, change)
                for react in reactions():
                    react(session, ready.shop_id, change)

    def _mark_done(self, session: Session, event_ids: Sequence[int]) -> None:
        done = {"status": EventStatus.DONE, "last_error": None, "processed_at": utcnow()}
        session.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(event_ids)).values(done))

    def _retry_alone(self, event_id: int, retries_left: int) -> None:
        self.runtime.queue(EVENTS).enqueue_in(
            dt.timedelta(seconds=RETRY_INTERVALS[0]),
            PROCESS_EVENT,
            args=(event_id,),
            job_id=event_job_id(event_id),
            job_timeout=self.runtime.settings.job_timeout,
            retry=event_retry(retries_left),
            result_ttl=3600,
            failure_ttl=30 * 24 * 3600,
            description=f"process webhook event {event_id}",
        )

    def _guarded(self, event_id: int, retries_left: int | None, step: Callable[[], Outcome]) -> Outcome:
        token = QUOTA_WAIT_LIMIT.set(STEP_ASIDE_AFTER)
        try:
            return step()
        except QuotaWait as exc:
            log.info(
                "event %s: its shop's API quota is spent; stepping aside for %.1fs", event_id, exc.retry_after or 0
            )
            self._step_aside(event_id, exc)
            return Outcome.STEPPED_ASIDE
        except TransientPlatformError as exc:
            # The platform is busy or down: never a reason to give up on the event. While RQ has
            # retries left it backs off; after that the sweep re-enqueues the event at ``retry_at``.
            log.warning("event %s: platform unavailable (%s); will retry", event_id, exc)
            if retries_left:
                self._record_failure(event_id, _short(exc), final=False, retry_at=None)
                raise EventFailed(str(exc)) from exc
            delay = max(exc.retry_after or 0, RETRY_INTERVALS[-1])
            retry_at = utcnow() + dt.timedelta(seconds=delay)
            self._record_failure(event_id, _short(exc), final=False, retry_at=retry_at)
            return Outcome.RETRY
        except Exception as exc:
            final = not retries_left
            if not _database_error(exc):
                log.exception("event %s failed (final=%s)", event_id, final)
                self._record_failure(event_id, _short(exc), final=final, retry_at=None)
                raise EventFailed(_short(exc)) from exc
            error = _without_values(exc, event_id)
            # The stack (code lines) without any exception's text, and nothing chained for RQ to print
            # or keep in Redis with the failed job.
            stack = "".join(traceback.format_tb(exc.__traceback__))
            log.error("event %s failed (final=%s): %s\n%s", event_id, final, error, stack)
            self._record_failure(event_id, error, final=final, retry_at=None)
            raise EventFailed(error) from None
        finally:
            QUOTA_WAIT_LIMIT.reset(token)

    def _load_many(self, event_ids: Sequence[int]) -> dict[int, _Loaded]:
        """The claimed rows and their shops, in one transaction (each shop read and decrypted once)."""
        if not event_ids:
            return {}
        loaded: dict[int, _Loaded] = {}
        shops: dict[tuple[str, str], tuple[ShopAccess | None, bool]] = {}
        with self.runtime.session() as session:
            for row in session.scalars(sa.select(WebhookEvent).where(WebhookEvent.id.in_(event_ids))):
                key = (row.platform, row.shop)
                if key not in shops:
                    shops[key] = self._shop(find_shop(session, row.platform, row.shop))
                access, refresh_due = shops[key]
                loaded[row.id] = _Loaded(_stored(row), row.attempts, access, refresh_due)
        return loaded

    def _shop(self, shop: Shop | None) -> tuple[ShopAccess | None, bool]:
        if shop is None:
            return None, False
        access = shop_access(self.runtime.cipher, shop) if shop.state == ShopState.ACTIVE else None
        refresh_due = shop.token_state == TokenState.REFRESH_FAILED or needs_refresh(
            shop.platform, shop.refresh_token_enc, shop.access_token_expires_at
        )
        return access, refresh_due

    def _process_claimed(
        self, event_id: int, item: _Loaded | None = None, ready: list[_Ready] | None = None
    ) -> Outcome:
        """Everything up to applying the changes; then applies them, or (``ready`` given) leaves them there
        for the batch's one transaction."""
        if item is None:
            item = self._load_many([event_id]).get(event_id)
            if item is None:  # deleted by an operator between claim and load
                return Outcome.NOT_CLAIMED
        event, attempts, access = item.event, item.attempts, item.access
        adapter = self.adapters.get(event.platform)
        if adapter is None or not adapter.handles(event.topic):
            self._finish(event_id, EventStatus.IGNORED, f"topic {event.topic!r} has no handler yet")
            return Outcome.IGNORED
        if access is not None and item.refresh_due:
            try:
                access = processing_access(self.runtime, access.shop_id)
            except ShopNotInstalled:
                access = None
        if access is None:
            self._finish(event_id, EventStatus.QUARANTINED, f"shop {event.shop!r} is not installed")
            return Outcome.QUARANTINED
        try:
            result = adapter.translate(event, access)
        except BadPayload as exc:
            self._finish(event_id, EventStatus.QUARANTINED, _short(exc))
            return Outcome.QUARANTINED
        except NotFoundAtPlatform as exc:
            self._finish(event_id, EventStatus.DONE, f"not found at the platform: {exc}"[:MAX_ERROR_LENGTH])
            return Outcome.DONE
        if isinstance(result, Skip):
            self._finish(event_id, EventStatus.IGNORED, result.reason)
            return Outcome.IGNORED
        for change in result:
            if isinstance(change, ShopUninstalled):  # a lifecycle step, idempotent: before the rest
                outcome = confirm_uninstall(self.runtime, access.shop_id, change.notified_at)
                if outcome.verdict == Verdict.STILL_INSTALLED and attempts < UNINSTALL_CHECKS:
                    raise UninstallNotConfirmed(f"{outcome.reason}; asking the platform again")
                if outcome.refused:
                    self._finish(event_id, EventStatus.IGNORED, outcome.reason)
                    return Outcome.IGNORED
        # The changes and the event's new status commit together: a crash in between leaves the
        # event claimable again, never half applied and marked done.
        prepared = _Ready(event_id, access.shop_id, tuple(result))
        if ready is not None:
            ready.append(prepared)
            return Outcome.DONE
        return self._apply(prepared)


def _stored(row: WebhookEvent) -> StoredEvent:
    return StoredEvent(row.id, row.platform, row.shop, row.topic, row.body, row.triggered_at, row.api_version)
