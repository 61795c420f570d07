"""check-ins by customer: an index for the per-customer questions asked on every delivery event

A customer's open task, their last call (the days-between-calls rule) and the tasks that follow them to a
new rep are all asked by ``customer_id``. The partial unique index on open post-purchase tasks cannot
answer them (the queries bind their statuses as parameters, and some span every kind), so without this
each event scanned the shop's whole ``checkins`` table: ``bench.reps`` measured 4.7x the per-event cost at
100k customers than at 1k.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_checkins_customer_status", "checkins", ["customer_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_checkins_customer_status", table_name="checkins")
