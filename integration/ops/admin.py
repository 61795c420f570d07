"""The console's other pages: failed jobs (requeue), shops (reconcile, re-check subscriptions), outbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, url_for
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from integration import runtime_of
from integration.core.fanout import enqueue_per_shop
from integration.core.queues import ALL
from integration.events.models import WebhookEvent
from integration.messaging.models import OutboxMessage
from integration.ops.auth import ops_blueprint
from integration.platforms.registry import parts_for
from integration.shops.models import Shop
from integration.shops.subscriptions import parse_report, summarise
from integration.shops.tasks import CHECK_SUBSCRIPTIONS
from integration.sync.models import SyncCursor
from integration.sync.tasks import RECONCILE

log = logging.getLogger(__name__)

bp = ops_blueprint("ops_admin", __name__)


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func: str
    ended_at: Any
    error: str
    traceback: str


def _registries() -> list[FailedJobRegistry]:
    redis = runtime_of(current_app).redis
    return [FailedJobRegistry(name, connection=redis) for name in ALL]


def failed_jobs(limit: int = 200) -> list[FailedJob]:
    redis = runtime_of(current_app).redis
    found = []
    for registry in _registries():
        ids = registry.get_job_ids(0, limit - 1)
        for job in Job.fetch_many(ids, connection=redis):
            if job is None:
                continue
            latest = job.latest_result()
            trace = (latest.exc_string if latest is not None else None) or job.exc_info or ""
            lines = [line for line in trace.strip().splitlines() if line.strip()]
            found.append(
                FailedJob(job.id, registry.name, job.func_name or "?", job.ended_at, lines[-1] if lines else "", trace)
            )
    return found


@bp.get("/failed")
def failed() -> Any:
    return render_template("ops/failed.html", jobs=failed_jobs(), nav="failed")


@bp.post("/failed/<job_id>/requeue")
def requeue(job_id: str) -> Any:
    for registry in _registries():
        if job_id in registry:
            try:
                registry.requeue(job_id)
            except (NoSuchJobError, InvalidJobOperation):
                break
            flash(f"Job {job_id} is queued again.", "success")
            return redirect(url_for("ops_admin.failed"), code=303)
    abort(404, description="No such failed job (it may have been requeued already).")


@bp.post("/failed/requeue-all")
def requeue_all() -> Any:
    total = 0
    for registry in _registries():
        for job_id in registry.get_job_ids():
            try:
                registry.requeue(job_id)
                total += 1
            except (NoSuchJobError, InvalidJobOperation):
                continue  # gone meanwhile (expired, or requeued by someone else)
    flash(f"{total} failed job(s) queued again.", "success")
    return redirect(url_for("ops_admin.failed"), code=303)


@bp.get("/shops")
def shops() -> Any:
    with runtime_of(current_app).session() as db:
        shops = list(db.scalars(sa.select(Shop).order_by(Shop.id)))
        last_events = dict(
            db.execute(
                sa.select(WebhookEvent.shop, sa.func.max(WebhookEvent.received_at)).group_by(WebhookEvent.shop)
            ).all()
        )
        cursors: dict[int, list[SyncCursor]] = {}
        for cursor in db.scalars(sa.select(SyncCursor).order_by(SyncCursor.resource)):
            cursors.setdefault(cursor.shop_id, []).append(cursor)
        rows = [
            {
                "shop": shop,
                "title": parts_for(shop.platform).title or shop.platform,
                "last_event": last_events.get(shop.identifier),
                "subscriptions": summarise(parse_report(shop.subscriptions_report)),
                "problems": (parse_report(shop.subscriptions_report) or {}).get("problems", []),
                "cursors": cursors.get(shop.id, []),
            }
            for shop in shops
        ]
        db.expunge_all()
    return render_template("ops/shops.html", rows=rows, nav="shops")


def _shop_id(shop_id: int) -> int:
    with runtime_of(current_app).session() as db:
        if db.get(Shop, shop_id) is None:
            abort(404, description="No such shop.")
    return shop_id


@bp.post("/shops/<int:shop_id>/reconcile")
def reconcile(shop_id: int) -> Any:
    queued = enqueue_per_shop(runtime_of(current_app), RECONCILE, [_shop_id(shop_id)])
    flash(
        "Reconciliation queued." if queued else "A reconciliation of this shop is already waiting or running.",
        "success",
    )
    return redirect(url_for("ops_admin.shops"), code=303)


@bp.post("/shops/<int:shop_id>/subscriptions")
def check_subscriptions(shop_id: int) -> Any:
    queued = enqueue_per_shop(runtime_of(current_app), CHECK_SUBSCRIPTIONS, [_shop_id(shop_id)])
    flash(
        "Subscription check queued." if queued else "A subscription check of this shop is already waiting.", "success"
    )
    return redirect(url_for("ops_admin.shops"), code=303)


def mask_address(address: str) -> str:
    """``j•••@e•••.com``: enough to tell two recipients apart, not enough to write to them."""
    local, _, domain = address.partition("@")
    name, dot, tld = domain.rpartition(".")
    return f"{local[:1]}•••@{name[:1]}•••{dot}{tld}" if domain else "•••"


@bp.get("/outbox")
def outbox() -> Any:
    with runtime_of(current_app).session() as db:
        rows = list(db.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)))
        total = int(db.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) or 0)
        db.expunge_all()
    return render_template("ops/outbox.html", rows=rows, total=total, mask_address=mask_address, nav="outbox")
