"""reps and check-ins: the roster with books, the check-ins they work, their settings, and the outbox

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:49:03.613362
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "checkin_settings",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("transit_days", sa.Integer(), server_default="4", nullable=False),
        sa.Column("delay_days", sa.Integer(), server_default="2", nullable=False),
        sa.Column("min_days_between", sa.Integer(), server_default="30", nullable=False),
        sa.Column("calling_window", sa.String(length=255), nullable=False),
        sa.Column("call_script", sa.Text(), nullable=True),
        sa.Column("updated_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("sent_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "dedupe_key", name="uq_outbox_shop_dedupe"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status_created", ["status", "created_at"], unique=False)

    op.create_table(
        "reps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("working_hours", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer(), server_default="150", nullable=False),
        sa.Column("capacity_override", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("book_size", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("away_from", sa.Date(), nullable=True),
        sa.Column("away_until", sa.Date(), nullable=True),
        sa.Column("backup_rep_id", sa.Integer(), nullable=True),
        sa.Column("left_at", Moment, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.CheckConstraint("book_size >= 0", name="ck_reps_book_size"),
        sa.ForeignKeyConstraint(["backup_rep_id"], ["reps.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_user_id"], ["staff_users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "email", name="uq_reps_shop_email"),
    )
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.create_index("ix_reps_shop_state", ["shop_id", "state"], unique=False)

    op.create_table(
        "checkins",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), server_default="post_purchase", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delivered_at", Moment, nullable=True),
        sa.Column("delivery_estimated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("due_at", Moment, nullable=False),
        sa.Column("outside_window", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("closed_at", Moment, nullable=True),
        sa.Column("close_reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index("ix_checkins_rep_status_due", ["rep_id", "status", "due_at"], unique=False)
        batch_op.create_index("ix_checkins_shop_status_due", ["shop_id", "status", "due_at"], unique=False)
        batch_op.create_index(
            "ix_checkins_scheduled_due",
            ["due_at"],
            unique=False,
            sqlite_where=sa.text("status = 'scheduled'"),
            postgresql_where=sa.text("status = 'scheduled'"),
        )
        batch_op.create_index(
            "uq_checkins_open_customer",
            ["customer_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('scheduled', 'due') AND kind = 'post_purchase'"),
            postgresql_where=sa.text("status IN ('scheduled', 'due') AND kind = 'post_purchase'"),
        )

    op.create_table(
        "checkin_attempts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("checkin_id", BigId, nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("at", Moment, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recommend", sa.Integer(), nullable=True),
        sa.Column("improve", sa.Text(), nullable=True),
        sa.Column("improve_product_id", sa.String(length=64), nullable=True),
        sa.Column("do_not_call", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["checkin_id"], ["checkins.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("checkin_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_checkin_attempts_checkin", ["checkin_id"], unique=False)

    op.create_table(
        "checkin_orders",
        sa.Column("checkin_id", BigId, nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(["checkin_id"], ["checkins.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("checkin_id", "order_id"),
        sa.UniqueConstraint("order_id", name="uq_checkin_orders_order"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("test", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rep_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rep_assigned_at", Moment, nullable=True))
        batch_op.add_column(sa.Column("pool_since", Moment, nullable=True))
        batch_op.create_index("ix_customers_rep", ["rep_id"], unique=False)
        batch_op.create_index("ix_customers_shop_pool", ["shop_id", "pool_since"], unique=False)
        batch_op.create_foreign_key("fk_customers_rep_id", "reps", ["rep_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint("fk_customers_rep_id", type_="foreignkey")
        batch_op.drop_index("ix_customers_shop_pool")
        batch_op.drop_index("ix_customers_rep")
        batch_op.drop_column("pool_since")
        batch_op.drop_column("rep_assigned_at")
        batch_op.drop_column("rep_id")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("test")

    op.drop_table("checkin_orders")
    with op.batch_alter_table("checkin_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_checkin_attempts_checkin")

    op.drop_table("checkin_attempts")
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_checkins_open_customer",
            sqlite_where=sa.text("status IN ('scheduled', 'due') AND kind = 'post_purchase'"),
            postgresql_where=sa.text("status IN ('scheduled', 'due') AND kind = 'post_purchase'"),
        )
        batch_op.drop_index(
            "ix_checkins_scheduled_due",
            sqlite_where=sa.text("status = 'scheduled'"),
            postgresql_where=sa.text("status = 'scheduled'"),
        )
        batch_op.drop_index("ix_checkins_shop_status_due")
        batch_op.drop_index("ix_checkins_rep_status_due")

    op.drop_table("checkins")
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.drop_index("ix_reps_shop_state")

    op.drop_table("reps")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_created")

    op.drop_table("outbox")
    op.drop_table("checkin_settings")
