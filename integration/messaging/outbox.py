"""Writing emails into the outbox, handing them to RQ, and reading them back (CLI, ops console).

Every email is a row before anything is sent: :func:`queue_email` renders nothing itself (callers pass the
finished parts; HTML gets its styles inlined here) and inserts the row with its Message-ID, once per
``(shop, dedupe_key)``. Sending is one RQ job per row (``jobs.messaging.send_email``, job id
``email-{id}``): callers that want it at once call :func:`enqueue_sends` after their commit, and the
relay (every 30 s) enqueues every queued row whose time has come and whose job Redis does not hold, so a
lost job or a thank-you due in an hour goes out without anybody remembering it. Without ``SMTP_URL`` the
relay enqueues nothing: the mail stays in the outbox, readable with ``outbox list`` / ``outbox show``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa
from rq import Retry
from sqlalchemy.orm import Session

from integration.core.config import Settings
from integration.core.db import dialect_insert, utcnow
from integration.core.queues import MAIL, live_job_ids
from integration.core.runtime import Runtime
from integration.messaging.compose import TRANSACTIONAL, inline_css, new_message_id
from integration.messaging.models import OutboxMessage

log = logging.getLogger(__name__)

SEND_EMAIL = "jobs.messaging.send_email"
# Backoff after a 4xx or a connection failure (seconds); the last attempt that fails marks the row failed.
RETRY_INTERVALS = (30, 120, 600, 1800, 3600)
SEND_TIMEOUT = 120
RELAY_BATCH = 200


@dataclass(frozen=True)
class Draft:
    """One email, rendered: what :func:`queue_email` stores."""

    shop_id: int
    dedupe_key: str
    template: str
    recipient: str
    subject: str
    text: str
    html: str | None = None
    customer_id: int | None = None
    category: str = TRANSACTIONAL
    sender_name: str | None = None
    sender_address: str | None = None
    reply_to: str | None = None
    unsubscribe_url: str | None = None
    send_after: dt.datetime | None = None
    # "waiting": held back until something else releases it (a thank-you until its code is made).
    status: str = "queued"


def send_job_id(outbox_id: int) -> str:
    return f"email-{outbox_id}"


def queue_email(
    session: Session, draft: Draft, settings: Settings | None = None, *, now: dt.datetime | None = None
) -> int | None:
    """Insert the email into the outbox; its id, or None when this dedupe key was written before.

    The Message-ID is made here when the sending domain is known (``draft.sender_address``, else
    ``settings``' MAIL_FROM); otherwise at the first attempt, and kept for every later one."""
    now = now or utcnow()
    html = inline_css(draft.html) if draft.html else None
    sending_address = draft.sender_address or (parseaddr(settings.mail_from)[1] if settings is not None else "")
    inserted = session.execute(
        dialect_insert(session)(OutboxMessage)
        .values(
            shop_id=draft.shop_id,
            dedupe_key=draft.dedupe_key,
            template=draft.template,
            recipient=draft.recipient,
            subject=draft.subject,
            text_body=draft.text,
            html_body=html,
            status=draft.status,
            message_id=new_message_id(sending_address, settings) if sending_address and settings else None,
            customer_id=draft.customer_id,
            category=draft.category,
            sender_name=draft.sender_name,
            sender_address=draft.sender_address,
            reply_to=draft.reply_to,
            unsubscribe_url=draft.unsubscribe_url,
            send_after=draft.send_after,
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(OutboxMessage.id)
    ).scalar()
    return int(inserted) if inserted is not None else None


def _prepare(runtime: Runtime, outbox_id: int) -> Any:
    return runtime.queue(MAIL).prepare_data(
        SEND_EMAIL,
        args=(outbox_id,),
        job_id=send_job_id(outbox_id),
        timeout=SEND_TIMEOUT,
        retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
        result_ttl=3600,
        failure_ttl=30 * 24 * 3600,
        description=f"send outbox email {outbox_id}",
    )


def enqueue_sends(runtime: Runtime, outbox_ids: Sequence[int]) -> int:
    """Enqueue the send job of each row (after the caller's commit); nothing without SMTP_URL."""
    if not outbox_ids or not runtime.settings.smtp_url:
        return 0
    queue = runtime.queue(MAIL)
    with runtime.redis.pipeline() as pipe:
        queue.enqueue_many([_prepare(runtime, outbox_id) for outbox_id in outbox_ids], pipeline=pipe)
        pipe.execute()
    return len(outbox_ids)


def _alive(runtime: Runtime, outbox_ids: Sequence[int]) -> set[int]:
    live = live_job_ids(runtime.redis, [send_job_id(i) for i in outbox_ids])
    return {i for i in outbox_ids if send_job_id(i) in live}


def relay(runtime: Runtime, *, now: dt.datetime | None = None) -> int:
    """Enqueue queued rows whose time has come and that have no live job; returns how many."""
    if not runtime.settings.smtp_url:
        return 0
    now = now or utcnow()
    with runtime.session() as session:
        due = list(
            session.scalars(
                sa.select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == "queued",
                    sa.or_(OutboxMessage.send_after.is_(None), OutboxMessage.send_after <= now),
                )
                .order_by(OutboxMessage.id)
                .limit(RELAY_BATCH)
            )
        )
    if not due:
        return 0
    alive = _alive(runtime, due)
    waiting = [i for i in due if i not in alive]
    enqueue_sends(runtime, waiting)
    if waiting:
        log.info("outbox relay: %d email(s) enqueued", len(waiting))
    return len(waiting)


# --- reading (CLI, ops console) ---------------------------------------------------------------------


def list_messages(
    session: Session,
    *,
    shop_id: int | None = None,
    status: str | None = None,
    customer_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[OutboxMessage]:
    """Outbox rows, newest first, filtered; page with ``before_id`` (the last id of the previous page)."""
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if shop_id is not None:
        query = query.where(OutboxMessage.shop_id == shop_id)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if customer_id is not None:
        query = query.where(OutboxMessage.customer_id == customer_id)
    if before_id is not None:
        query = query.where(OutboxMessage.id < before_id)
    return list(session.scalars(query))


def get_message(session: Session, outbox_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, outbox_id)


def status_counts(session: Session, shop_id: int | None = None) -> dict[str, int]:
    """How many rows per status (the ops console's summary)."""
    query = sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
    if shop_id is not None:
        query = query.where(OutboxMessage.shop_id == shop_id)
    return {status: int(count) for status, count in session.execute(query)}


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def summary(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "shop_id": row.shop_id,
        "template": row.template,
        "category": row.category,
        "recipient": row.recipient,
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "message_id": row.message_id,
        "error": row.error,
        "created_at": _iso(row.created_at),
        "send_after": _iso(row.send_after),
        "sent_at": _iso(row.sent_at),
    }


def detail(row: OutboxMessage) -> dict[str, Any]:
    return {
        **summary(row),
        "dedupe_key": row.dedupe_key,
        "customer_id": row.customer_id,
        "sender_name": row.sender_name,
        "sender_address": row.sender_address,
        "reply_to": row.reply_to,
        "unsubscribe_url": row.unsubscribe_url,
        "last_attempt_at": _iso(row.last_attempt_at),
        "text_body": row.text_body,
        "html_body": row.html_body,
    }
