"""messaging: outbox sending columns, suppressions, the consent ledger and derived preferences, email
settings, consent pushes, thank-you codes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:46:59.886807
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "email_settings",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("thankyou_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("thankyou_delay_minutes", sa.Integer(), server_default="60", nullable=False),
        sa.Column("consent_required_in", sa.String(length=255), server_default="EU,GB,CA", nullable=False),
        sa.Column("thankyou_subject", sa.Text(), nullable=True),
        sa.Column("thankyou_body", sa.Text(), nullable=True),
        sa.Column("codes_enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("code_percent", sa.Integer(), server_default="15", nullable=False),
        sa.Column("code_days", sa.Integer(), server_default="30", nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id"),
    )
    op.create_table(
        "email_suppressions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("outbox_id", BigId, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "address", name="uq_email_suppressions_shop_address"),
    )
    op.create_table(
        "consent_ledger",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("previous", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("actor_ref", sa.String(length=255), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("wording_version", sa.String(length=32), nullable=True),
        sa.Column("occurred_at", Moment, nullable=False),
        sa.Column("recorded_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_consent_ledger_customer_topic", ["customer_id", "topic", "occurred_at"], unique=False)
        batch_op.create_index("ix_consent_ledger_shop_recorded", ["shop_id", "recorded_at"], unique=False)

    op.create_table(
        "consent_pushes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("pushed_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_pushes", schema=None) as batch_op:
        batch_op.create_index("ix_consent_pushes_state", ["state", "created_at"], unique=False)

    op.create_table(
        "customer_preferences",
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("interests", sa.Text(), nullable=True),
        sa.Column("frequency", sa.String(length=16), server_default="everything", nullable=False),
        sa.Column("paused_until", Moment, nullable=True),
        sa.Column("link_generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "thank_you_codes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("outbox_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("ends_at", Moment, nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("fallback_text", sa.Text(), nullable=False),
        sa.Column("fallback_html", sa.Text(), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("made_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "code", name="uq_thank_you_codes_shop_code"),
    )
    with op.batch_alter_table("thank_you_codes", schema=None) as batch_op:
        batch_op.create_index("ix_thank_you_codes_state", ["state", "created_at"], unique=False)

    # The ledger starts from what the platforms told us so far: one imported entry per known consent.
    for channel, state, at in (
        ("email", "email_consent", "email_consent_at"),
        ("sms", "sms_consent", "sms_consent_at"),
        ("calls", "call_consent", "call_consent_at"),
    ):
        # The names are the constants above, never input.
        sql = (
            "INSERT INTO consent_ledger (shop_id, customer_id, topic, value, actor, method, occurred_at, recorded_at) "  # noqa: S608
            f"SELECT shop_id, id, '{channel}', {state}, 'import', 'import', COALESCE({at}, updated_at), "
            f"COALESCE({at}, updated_at) FROM customers WHERE {state} IS NOT NULL"
        )
        op.execute(sql)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_id", BigId, nullable=True))
        batch_op.add_column(sa.Column("category", sa.String(length=16), server_default="transactional", nullable=False))
        batch_op.add_column(sa.Column("sender_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("sender_address", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("reply_to", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("unsubscribe_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("send_after", Moment, nullable=True))
        batch_op.add_column(sa.Column("last_attempt_at", Moment, nullable=True))
        batch_op.create_index("ix_outbox_customer", ["customer_id"], unique=False)
        batch_op.create_index("ix_outbox_shop_id", ["shop_id", "id"], unique=False)
        batch_op.create_index("ix_outbox_status_send_after", ["status", "send_after"], unique=False)
        batch_op.create_foreign_key("fk_outbox_customer_id", "customers", ["customer_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("thank_you_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_thank_you_codes_state")
    op.drop_table("thank_you_codes")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outbox_customer_id", type_="foreignkey")
        batch_op.drop_index("ix_outbox_status_send_after")
        batch_op.drop_index("ix_outbox_shop_id")
        batch_op.drop_index("ix_outbox_customer")
        batch_op.drop_column("last_attempt_at")
        batch_op.drop_column("send_after")
        batch_op.drop_column("unsubscribe_url")
        batch_op.drop_column("reply_to")
        batch_op.drop_column("sender_address")
        batch_op.drop_column("sender_name")
        batch_op.drop_column("category")
        batch_op.drop_column("customer_id")

    op.drop_table("customer_preferences")
    with op.batch_alter_table("consent_pushes", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_pushes_state")

    op.drop_table("consent_pushes")
    with op.batch_alter_table("consent_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_ledger_shop_recorded")
        batch_op.drop_index("ix_consent_ledger_customer_topic")

    op.drop_table("consent_ledger")
    op.drop_table("email_suppressions")
    op.drop_table("email_settings")
