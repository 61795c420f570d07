"""customer profiles: identity matching, place and time zone, purchase totals, timeline, segments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:44:07.334846
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_products",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("product_key", sa.String(length=512), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "product_key", name="uq_customer_products"),
    )
    op.create_table(
        "customer_timeline",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "kind", "ref", name="uq_customer_timeline_fact"),
    )
    with op.batch_alter_table("customer_timeline", schema=None) as batch_op:
        batch_op.create_index("ix_customer_timeline_customer_at", ["customer_id", "at"], unique=False)

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_key", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("time_zone_source", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("orders_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("total_spent", sa.Numeric(precision=14, scale=2), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("cancelled_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("refunded_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("first_order_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_order_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("segment", sa.String(length=16), nullable=False, server_default="prospect"))
        batch_op.add_column(sa.Column("email_consent", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("sms_consent", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("call_consent", sa.String(length=32), nullable=True))
        batch_op.alter_column("platform_customer_id", existing_type=sa.VARCHAR(length=64), nullable=True)
        batch_op.create_index("ix_customers_shop_phone", ["shop_id", "phone_key"], unique=False)
        batch_op.create_index("ix_customers_shop_segment", ["shop_id", "segment"], unique=False)
        batch_op.create_index(
            "uq_customers_shop_email",
            ["shop_id", "email"],
            unique=True,
            sqlite_where=sa.text("email IS NOT NULL"),
            postgresql_where=sa.text("email IS NOT NULL"),
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("counted_customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("counted_total", sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.create_foreign_key(
            "fk_orders_counted_customer", "customers", ["counted_customer_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_orders_customer_placed", ["customer_id", "placed_at"], unique=False)
        batch_op.create_index("ix_orders_counted_customer_placed", ["counted_customer_id", "placed_at"], unique=False)

    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("vip_threshold_override", sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column("vip_threshold", sa.Numeric(precision=14, scale=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("vip_threshold")
        batch_op.drop_column("vip_threshold_override")
        batch_op.drop_column("currency")
        batch_op.drop_column("time_zone")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_counted_customer_placed")
        batch_op.drop_index("ix_orders_customer_placed")
        batch_op.drop_constraint("fk_orders_counted_customer", type_="foreignkey")
        batch_op.drop_column("counted_total")
        batch_op.drop_column("counted_customer_id")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_customers_shop_email",
            sqlite_where=sa.text("email IS NOT NULL"),
            postgresql_where=sa.text("email IS NOT NULL"),
        )
        batch_op.drop_index("ix_customers_shop_segment")
        batch_op.drop_index("ix_customers_shop_phone")
        batch_op.alter_column("platform_customer_id", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch_op.drop_column("call_consent")
        batch_op.drop_column("sms_consent")
        batch_op.drop_column("email_consent")
        batch_op.drop_column("segment")
        batch_op.drop_column("last_order_at")
        batch_op.drop_column("first_order_at")
        batch_op.drop_column("currency")
        batch_op.drop_column("refunded_count")
        batch_op.drop_column("cancelled_count")
        batch_op.drop_column("total_spent")
        batch_op.drop_column("orders_count")
        batch_op.drop_column("time_zone_source")
        batch_op.drop_column("time_zone")
        batch_op.drop_column("phone_key")

    with op.batch_alter_table("customer_timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_timeline_customer_at")

    op.drop_table("customer_timeline")
    op.drop_table("customer_products")
