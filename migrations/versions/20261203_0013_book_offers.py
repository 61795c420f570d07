"""per-book offers: a rep's book's own thank-you code offer, the discount codes used on orders, and
which book (and offer) each thank-you code was made for and the order that redeemed it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "book_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rep_id", name="uq_book_offers_rep"),
    )
    op.create_index("ix_book_offers_shop", "book_offers", ["shop_id"])
    op.create_table(
        "order_discount_codes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_order_discount_codes_order", "order_discount_codes", ["order_id"])
    with op.batch_alter_table("thank_you_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rep_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("book_offer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("redeemed_order_id", BigId, nullable=True))
        batch_op.add_column(sa.Column("redeemed_at", Moment, nullable=True))
        batch_op.add_column(sa.Column("redeemed_total", sa.Numeric(14, 2), nullable=True))
        batch_op.add_column(sa.Column("redeemed_currency", sa.String(length=3), nullable=True))
        batch_op.create_foreign_key("fk_thank_you_codes_rep", "reps", ["rep_id"], ["id"], ondelete="SET NULL")
        batch_op.create_foreign_key(
            "fk_thank_you_codes_book_offer", "book_offers", ["book_offer_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            "fk_thank_you_codes_redeemed_order", "orders", ["redeemed_order_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_thank_you_codes_shop_rep", ["shop_id", "rep_id"], unique=False)
    # Codes made before this knew no book: the customer's rep now is the best we can say.
    op.execute(
        "UPDATE thank_you_codes SET rep_id = (SELECT rep_id FROM customers WHERE customers.id = thank_you_codes.customer_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("thank_you_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_thank_you_codes_shop_rep")
        batch_op.drop_constraint("fk_thank_you_codes_redeemed_order", type_="foreignkey")
        batch_op.drop_constraint("fk_thank_you_codes_book_offer", type_="foreignkey")
        batch_op.drop_constraint("fk_thank_you_codes_rep", type_="foreignkey")
        for column in (
            "redeemed_currency",
            "redeemed_total",
            "redeemed_at",
            "redeemed_order_id",
            "days",
            "book_offer_id",
            "rep_id",
        ):
            batch_op.drop_column(column)
    op.drop_index("ix_order_discount_codes_order", table_name="order_discount_codes")
    op.drop_table("order_discount_codes")
    op.drop_index("ix_book_offers_shop", table_name="book_offers")
    op.drop_table("book_offers")
