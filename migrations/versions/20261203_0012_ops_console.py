"""ops console: ops users and the audit of PII reveals

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 14:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ops_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("last_sign_in_at", Moment, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "ops_reveals",
        sa.Column("id", BigId, nullable=False),
        sa.Column("ops_user_id", sa.Integer(), nullable=True),
        sa.Column("ops_email", sa.String(length=320), nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("revealed_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["ops_user_id"], ["ops_users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ops_reveals_event", "ops_reveals", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_ops_reveals_event", table_name="ops_reveals")
    op.drop_table("ops_reveals")
    op.drop_table("ops_users")
