"""Sending one outbox row: the body of the ``send_email`` job.

The row is the truth, so a job that runs twice (RQ retries, a sweep, a duplicate delivery of the job) sends
at most once:

* ``queued`` rows are claimed by one UPDATE (``queued`` -> ``sending``, attempts + 1) in the transaction
  that re-checks consent and suppression, so an opt-out between queueing and sending wins;
* the moment the SMTP server has said 354, before the content goes, the row becomes ``unconfirmed`` and is
  committed: from then on a broken connection may hide a delivery, and an ``unconfirmed`` row is never sent
  again (ops sees it and the reason);
* the final 250 makes it ``sent``. A 4xx or a connection failure before the content puts it back to
  ``queued`` and raises, so RQ retries with backoff (the last attempt marks it ``failed``); a 5xx to the
  recipient suppresses the address with the server's reason; any other 5xx is ``failed``.

A row left ``sending`` by a worker that died before the content went is claimed again once it is older
than the job's timeout.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from integration.core import telemetry
from integration.core.db import dialect_insert, rows_changed, utcnow
from integration.core.runtime import Runtime
from integration.messaging.compose import NoSender, Sender, build_message, new_message_id, sender_for
from integration.messaging.contactable import blocked_reason, normalise_address
from integration.messaging.models import OutboxMessage, Suppression
from integration.messaging.outbox import SEND_TIMEOUT
from integration.messaging.transport import (
    PermanentSendError,
    RecipientRefused,
    SmtpTransport,
    TransientSendError,
    Unconfirmed,
)
from integration.shops.models import Shop

log = logging.getLogger(__name__)

QUEUED, SENDING, UNCONFIRMED, SENT, FAILED, SKIPPED = "queued", "sending", "unconfirmed", "sent", "failed", "skipped"
# A claim older than this was left by a worker that died before the content went (the job's timeout, plus room).
STALE_CLAIM = dt.timedelta(seconds=SEND_TIMEOUT + 60)


class SendLater(Exception):
    """Raised so RQ retries the job with backoff; the row is ``queued`` again with the reason."""


def _finish(runtime: Runtime, outbox_id: int, status: str, error: str | None, *, sent: bool = False) -> None:
    values: dict[str, object] = {"status": status, "error": error}
    if sent:
        values["sent_at"] = utcnow()
    with runtime.session() as session:
        session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(**values))


def suppress(session: sa.orm.Session, shop_id: int, address: str, reason: str, outbox_id: int | None = None) -> None:
    """Never email ``address`` again for this shop (the first reason is kept)."""
    session.execute(
        dialect_insert(session)(Suppression)
        .values(shop_id=shop_id, address=normalise_address(address), reason=reason, outbox_id=outbox_id)
        .on_conflict_do_nothing()
    )


def _claim(runtime: Runtime, outbox_id: int, now: dt.datetime) -> tuple[OutboxMessage, Sender] | str:
    """The row and its sender, claimed for this attempt; or why there is nothing to send (a status)."""
    with runtime.session() as session:
        row = session.get(OutboxMessage, outbox_id)
        if row is None:
            return "missing"
        if row.status == SENDING and row.last_attempt_at is not None and row.last_attempt_at > now - STALE_CLAIM:
            return "busy"
        if row.status not in (QUEUED, SENDING):
            return row.status
        if row.send_after is not None and row.send_after > now:
            return "not_yet"
        reason = blocked_reason(
            session,
            row.shop_id,
            row.recipient,
            customer_id=row.customer_id,
            category=row.category,
            now=now,
            outbox_id=row.id,
            lock=True,
        )
        if reason is not None:
            row.status, row.error = SKIPPED, reason
            return SKIPPED
        try:
            sender = (
                Sender(row.sender_name, row.sender_address)
                if row.sender_address
                else sender_for(session.get(Shop, row.shop_id), runtime.settings, row.sender_name)
            )
        except NoSender as exc:
            row.status, row.error = FAILED, str(exc)
            return FAILED
        message_id = row.message_id or new_message_id(sender.address, runtime.settings)
        claimed = session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.status == row.status)
            .where(
                OutboxMessage.last_attempt_at.is_(None)
                if row.last_attempt_at is None
                else OutboxMessage.last_attempt_at == row.last_attempt_at
            )
            .values(status=SENDING, attempts=OutboxMessage.attempts + 1, last_attempt_at=now, message_id=message_id)
            .execution_options(synchronize_session=False)
        )
        if rows_changed(claimed) != 1:
            return "busy"  # another job claimed it between our read and our update
        session.expunge(row)
        row.message_id = message_id
        return row, sender


def send_outbox(runtime: Runtime, outbox_id: int, *, retries_left: int | None = None) -> str:
    """Send one outbox row if it may and must go; returns its status afterwards (or why nothing happened).

    Raises :class:`SendLater` for a failure worth retrying while ``retries_left`` (RQ's count) allows it.
    """
    try:
        result = _send(runtime, outbox_id, retries_left)
    except SendLater:
        telemetry.email_result("retry")
        raise
    if result in (SENT, SKIPPED, FAILED, UNCONFIRMED, SUPPRESSED):
        telemetry.email_result(result)
    return FAILED if result == SUPPRESSED else result


SUPPRESSED = "suppressed"  # a result for the metrics only: the row itself is "failed", its address suppressed


def _send(runtime: Runtime, outbox_id: int, retries_left: int | None) -> str:
    if not runtime.settings.smtp_url:
        return "held"  # no transport: the email stays in the outbox
    now = utcnow()
    claimed = _claim(runtime, outbox_id, now)
    if isinstance(claimed, str):
        return claimed
    row, sender = claimed
    content = build_message(row, sender).as_bytes()

    def mark_unconfirmed() -> None:
        _finish(runtime, outbox_id, UNCONFIRMED, "handing the message to the SMTP server")

    try:
        reply = SmtpTransport(runtime.settings.smtp_url).send(
            sender.address, row.recipient, content, before_content=mark_unconfirmed
        )
    except Unconfirmed as exc:
        log.warning("outbox %d: connection lost after the content went; not resent", outbox_id)
        _finish(runtime, outbox_id, UNCONFIRMED, str(exc))
        return UNCONFIRMED
    except RecipientRefused as exc:
        with runtime.session() as session:
            suppress(session, row.shop_id, row.recipient, str(exc), outbox_id)
            session.execute(
                sa.update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(status=FAILED, error=str(exc))
            )
        log.info("outbox %d: recipient refused permanently; address suppressed", outbox_id)
        return SUPPRESSED
    except PermanentSendError as exc:
        _finish(runtime, outbox_id, FAILED, str(exc))
        return FAILED
    except TransientSendError as exc:
        if not retries_left:  # RQ reads a count of 0 back as None: this was the last attempt
            _finish(runtime, outbox_id, FAILED, f"out of retries: {exc}")
            return FAILED
        _finish(runtime, outbox_id, QUEUED, str(exc))
        raise SendLater(str(exc)) from None
    _finish(runtime, outbox_id, SENT, None, sent=True)
    log.debug("outbox %d sent: %s", outbox_id, reply)
    return SENT
