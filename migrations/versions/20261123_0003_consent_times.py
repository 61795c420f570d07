"""consent times: each channel's consent is ordered by its own change time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("email", "sms", "call")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for channel in CHANNELS:
            batch_op.add_column(sa.Column(f"{channel}_consent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for channel in CHANNELS:
            batch_op.drop_column(f"{channel}_consent_at")
