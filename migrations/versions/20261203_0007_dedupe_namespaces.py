"""webhook dedupe keys in a namespace of their own ("webhook:"), apart from reconciliation's

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 11:00:00

A delivery's dedupe key comes from its sender (Shopify's webhook id header, BigCommerce's scope and
hash), and reconciliation's keys were plain "reconcile:…" strings in the same unique column, so a
delivery could carry a key that equals one reconciliation would write. Every key is now
"<writer>:<key>" (``integration.events.models.dedupe_key``): stored webhook keys get "webhook:" in
front, so a platform's retry of an event stored before this migration is still a duplicate.
Reconciliation's rows (its topics and its key shape) keep their keys, which already read "reconcile:".

Downgrade takes the prefix off again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX = "webhook:"
RECONCILE_TOPICS = ("reconcile/order", "reconcile/customer")

events = sa.table("webhook_events", sa.column("topic", sa.String), sa.column("dedupe_key", sa.String))


def upgrade() -> None:
    written_by_reconciliation = events.c.topic.in_(RECONCILE_TOPICS) & events.c.dedupe_key.like("reconcile:%")
    op.execute(
        events.update()
        .where(sa.not_(written_by_reconciliation))
        .values(dedupe_key=sa.literal(PREFIX, sa.String) + events.c.dedupe_key)
    )


def downgrade() -> None:
    op.execute(
        events.update()
        .where(events.c.dedupe_key.like(PREFIX + "%"))
        .values(dedupe_key=sa.func.substr(events.c.dedupe_key, len(PREFIX) + 1))
    )
