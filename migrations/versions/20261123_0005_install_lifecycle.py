"""install lifecycle: encrypted tokens, refresh tokens, staff users, merchant settings, subscription health

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:10:00

Existing plaintext access tokens (shops registered by hand before this) are encrypted with the
configured TOKEN_ENCRYPTION_KEY (or the local development key) on the way.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = sa.DateTime(timezone=True)


def _cipher():  # type: ignore[no-untyped-def]
    from alembic import context

    from integration.core.config import Settings
    from integration.core.crypto import TokenCipher

    key = context.config.attributes.get("token_encryption_key")
    return TokenCipher(key or Settings.from_env().token_encryption_key)


def upgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_token_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("refresh_token_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("access_token_expires_at", Moment, nullable=True))
        batch_op.add_column(sa.Column("refresh_token_expires_at", Moment, nullable=True))
        batch_op.add_column(sa.Column("token_state", sa.String(16), nullable=False, server_default="ok"))
        batch_op.add_column(sa.Column("token_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("scopes", sa.String(1024), nullable=True))
        batch_op.add_column(sa.Column("webhook_token_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("installed_at", Moment, nullable=True))
        batch_op.add_column(sa.Column("uninstalled_at", Moment, nullable=True))
        batch_op.add_column(sa.Column("name", sa.String(255), nullable=True))
        batch_op.add_column(sa.Column("postal_address", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sender_name", sa.String(255), nullable=True))
        batch_op.add_column(sa.Column("sender_email", sa.String(320), nullable=True))
        batch_op.add_column(sa.Column("subscriptions_checked_at", Moment, nullable=True))
        batch_op.add_column(sa.Column("subscriptions_report", sa.Text(), nullable=True))

    connection = op.get_bind()
    shops = sa.table(
        "shops", sa.column("id", sa.Integer), sa.column("access_token", sa.Text), sa.column("access_token_enc", sa.Text)
    )
    rows = connection.execute(
        sa.select(shops.c.id, shops.c.access_token).where(shops.c.access_token.is_not(None))
    ).all()
    if rows:
        cipher = _cipher()
        for shop_id, token in rows:
            connection.execute(
                shops.update().where(shops.c.id == shop_id).values(access_token_enc=cipher.encrypt(token))
            )
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("access_token")

    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("shop_id", sa.Integer(), sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
        sa.Column("platform_user_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("last_seen_at", Moment, nullable=True),
        sa.UniqueConstraint("shop_id", "platform_user_id", name="uq_staff_users_shop_user"),
    )


def downgrade() -> None:
    op.drop_table("staff_users")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_token", sa.Text(), nullable=True))
    connection = op.get_bind()
    shops = sa.table(
        "shops", sa.column("id", sa.Integer), sa.column("access_token", sa.Text), sa.column("access_token_enc", sa.Text)
    )
    rows = connection.execute(
        sa.select(shops.c.id, shops.c.access_token_enc).where(shops.c.access_token_enc.is_not(None))
    ).all()
    if rows:
        cipher = _cipher()
        for shop_id, token in rows:
            connection.execute(shops.update().where(shops.c.id == shop_id).values(access_token=cipher.decrypt(token)))
    with op.batch_alter_table("shops", schema=None) as batch_op:
        for column in (
            "subscriptions_report",
            "subscriptions_checked_at",
            "sender_email",
            "sender_name",
            "postal_address",
            "name",
            "uninstalled_at",
            "installed_at",
            "webhook_token_enc",
            "scopes",
            "token_error",
            "token_state",
            "refresh_token_expires_at",
            "access_token_expires_at",
            "refresh_token_enc",
            "access_token_enc",
        ):
            batch_op.drop_column(column)
