"""orders.paid_at (the thank-you is timed from payment) and the index of a customer's marketing sends

Orders stored before this revision that were paid or further along get their placement time as their
payment time: what the thank-you assumed until now. The outbox's customer index becomes (customer,
category, last attempt): it still serves a customer's emails, and now also the send-time check of a
"monthly" customer's last marketing email.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = sa.DateTime(timezone=True)
PAID_OR_LATER = ("paid", "partially_fulfilled", "fulfilled", "partially_refunded", "refunded")


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_at", Moment, nullable=True))
    statuses = ", ".join(f"'{status}'" for status in PAID_OR_LATER)
    op.execute(f"UPDATE orders SET paid_at = placed_at WHERE status IN ({statuses})")  # noqa: S608
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_customer")
        batch_op.create_index("ix_outbox_customer_sends", ["customer_id", "category", "last_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_customer_sends")
        batch_op.create_index("ix_outbox_customer", ["customer_id"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("paid_at")
