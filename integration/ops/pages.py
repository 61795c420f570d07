"""The console's pages: the overview, events (list, detail, reveal, replay, bulk replay)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for

from integration import runtime_of
from integration.core.db import utcnow
from integration.events.models import EventStatus, WebhookEvent
from integration.events.replay import replay_events
from integration.ops.auth import current_ops, ops_blueprint
from integration.ops.chart import webhooks_chart
from integration.ops.masking import show_body
from integration.ops.models import OpsReveal
from integration.ops.overview import overview as read_overview
from integration.ops.overview import stuck_filter

log = logging.getLogger(__name__)

bp = ops_blueprint("ops_pages", __name__)

PAGE = 100
BULK_MAX = 10_000  # events one bulk replay may touch (a filter that matches more is refused)
FILTERS = ("shop", "platform", "topic", "status", "since", "until", "stuck")


@bp.get("/")
def overview_slash() -> Any:
    return redirect(url_for("ops_pages.overview"), code=308)


@bp.get("")
def overview() -> Any:
    runtime = runtime_of(current_app)
    data = read_overview(runtime)
    template = "ops/_overview_body.html" if request.args.get("part") == "body" else "ops/overview.html"
    return render_template(
        template,
        data=data,
        chart=webhooks_chart(data.traffic),
        stale_after=runtime.settings.stale_after,
        nav="overview",
    )


def _when(name: str) -> dt.datetime | None:
    raw = (request.values.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        abort(422, description=f"{name}: not a date and time (like 2026-12-03T14:00)")
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _filters() -> dict[str, str]:
    return {k: (request.values.get(k) or "").strip() for k in FILTERS if (request.values.get(k) or "").strip()}


def _query(filters: dict[str, str]) -> Any:
    query = sa.select(WebhookEvent)
    if "shop" in filters:
        query = query.where(WebhookEvent.shop == filters["shop"].lower())
    if "platform" in filters:
        query = query.where(WebhookEvent.platform == filters["platform"].lower())
    if "topic" in filters:
        query = query.where(WebhookEvent.topic == filters["topic"])
    if "status" in filters:
        if filters["status"] not in {s.value for s in EventStatus}:
            abort(422, description="status: not an event status")
        query = query.where(WebhookEvent.status == filters["status"])
    since, until = _when("since"), _when("until")
    if since:
        query = query.where(WebhookEvent.received_at >= since)
    if until:
        query = query.where(WebhookEvent.received_at < until)
    if filters.get("stuck"):
        query = query.where(stuck_filter(runtime_of(current_app), utcnow()))
    return query


@bp.get("/events")
def events() -> Any:
    filters = _filters()
    query = _query(filters)
    before = request.args.get("before", "")
    with runtime_of(current_app).session() as db:
        total = int(db.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)
        page_query = query.order_by(WebhookEvent.id.desc()).limit(PAGE)
        if before.isdigit():
            page_query = page_query.where(WebhookEvent.id < int(before))
        rows = list(db.scalars(page_query))
        db.expunge_all()
        platforms = sorted(db.scalars(sa.select(WebhookEvent.platform).distinct()))
    return render_template(
        "ops/events.html",
        rows=rows,
        total=total,
        filters=filters,
        statuses=[s.value for s in EventStatus],
        platforms=platforms,
        next_before=rows[-1].id if len(rows) == PAGE else None,
        bulk_max=BULK_MAX,
        nav="events",
    )


def _event(event_id: int) -> WebhookEvent:
    with runtime_of(current_app).session() as db:
        event = db.get(WebhookEvent, event_id)
        if event is None:
            abort(404, description="No such event.")
        db.expunge(event)
    return event


def _job_state(event_id: int) -> str | None:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from integration.core.queues import event_job_id

    try:
        job = Job.fetch(event_job_id(event_id), connection=runtime_of(current_app).redis)
    except NoSuchJobError:
        return None
    status = job.get_status(refresh=False)
    return getattr(status, "value", None) or str(status)


def _event_page(event: WebhookEvent, *, revealed: bool) -> Any:
    with runtime_of(current_app).session() as db:
        reveals = db.execute(
            sa.select(OpsReveal.ops_email, OpsReveal.revealed_at)
            .where(OpsReveal.event_id == event.id)
            .order_by(OpsReveal.id.desc())
            .limit(20)
        ).all()
    return render_template(
        "ops/event.html",
        event=event,
        body=show_body(event.body, revealed=revealed),
        revealed=revealed,
        reveals=reveals,
        job_state=_job_state(event.id),
        nav="events",
    )


@bp.get("/events/<int:event_id>")
def event(event_id: int) -> Any:
    return _event_page(_event(event_id), revealed=False)


@bp.post("/events/<int:event_id>/reveal")
def reveal(event_id: int) -> Any:
    """The body unmasked, in this answer only (nothing sticks to the session); recorded first."""
    found = _event(event_id)
    who = current_ops()
    assert who is not None  # the blueprint let the request through
    with runtime_of(current_app).session() as db:
        db.add(OpsReveal(ops_user_id=who.user.id, ops_email=who.user.email, event_id=found.id))
    log.info("ops user %s revealed the customer data of event %s", who.user.id, found.id)
    return _event_page(found, revealed=True)


@bp.post("/events/<int:event_id>/replay")
def replay(event_id: int) -> Any:
    found = _event(event_id)
    replay_events(runtime_of(current_app), [found.id])
    flash(f"Event {found.id} is queued to run again.", "success")
    return redirect(url_for("ops_pages.event", event_id=found.id), code=303)


@bp.post("/events/replay")
def bulk_replay() -> Any:
    filters = _filters()
    if not filters:
        abort(422, description="Choose at least one filter before replaying a set of events.")
    with runtime_of(current_app).session() as db:
        ids = list(
            db.scalars(_query(filters).with_only_columns(WebhookEvent.id).order_by(WebhookEvent.id).limit(BULK_MAX + 1))
        )
    if len(ids) > BULK_MAX:
        abort(422, description=f"More than {BULK_MAX} events match: narrow the filters.")
    replay_events(runtime_of(current_app), ids)
    flash(f"{len(ids)} event(s) queued to run again.", "success")
    return redirect(url_for("ops_pages.events", **filters), code=303)  # type: ignore[arg-type]
