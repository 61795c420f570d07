"""sync and write-back: reconciliation cursors, the product catalogue, customer tags, write-back state, lapse time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_cursors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("shop_id", sa.Integer(), sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("cursor_at", Moment, nullable=True),
        sa.Column("started_at", Moment, nullable=True),
        sa.Column("finished_at", Moment, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_found", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_stored", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("shop_id", "resource", name="uq_sync_cursors_shop_resource"),
    )
    op.create_table(
        "products",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", sa.Integer(), sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
        sa.Column("platform_product_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(512), nullable=True),
        sa.Column("product_type", sa.String(255), nullable=True),
        sa.Column("fetched_at", Moment, nullable=True),
        sa.UniqueConstraint("shop_id", "platform_product_id", name="uq_products_shop_platform_id"),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("tags_at", Moment, nullable=True))
        batch_op.add_column(sa.Column("written_segment", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("written_rep", sa.String(320), nullable=True))
        batch_op.add_column(sa.Column("written_at", Moment, nullable=True))
        batch_op.add_column(sa.Column("writeback_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("lapses_at", Moment, nullable=True))
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bc_segment_attribute_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("bc_rep_attribute_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("bc_rep_attribute_id")
        batch_op.drop_column("bc_segment_attribute_id")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for column in (
            "lapses_at",
            "writeback_error",
            "written_at",
            "written_rep",
            "written_segment",
            "tags_at",
            "tags",
        ):
            batch_op.drop_column(column)
    op.drop_table("products")
    op.drop_table("sync_cursors")
