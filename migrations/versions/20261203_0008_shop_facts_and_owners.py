"""shop facts from the platform (zone, name, currency, owner email, domain) and who owns the shop

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00

``shops.time_zone`` stays the zone in effect. Until now only the merchant set it (the settings page),
so what it holds is the merchant's override: it is copied to ``time_zone_override``. The platform's
own zone arrives in ``platform_time_zone`` at the next install or subscription check.

``staff_users.is_owner``: the platform says this person owns the shop. On BigCommerce the admin role
was only ever given to the store owner named in the signed callbacks, so those admins are marked
owners (and lose the role when the owner changes); Shopify's admins were whoever opened the app
first, so theirs stay admins but are not marked owners (the account owner is marked at their next
sign-in).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone_override", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("platform_time_zone", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("owner_email", sa.String(320), nullable=True))
        batch_op.add_column(sa.Column("primary_domain", sa.String(255), nullable=True))
        batch_op.add_column(sa.Column("facts_read_at", Moment, nullable=True))
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_owner", sa.Boolean(), nullable=False, server_default=sa.false()))

    shops = sa.table("shops", sa.column("time_zone", sa.String), sa.column("time_zone_override", sa.String))
    op.execute(shops.update().where(shops.c.time_zone.is_not(None)).values(time_zone_override=shops.c.time_zone))
    op.execute(
        "UPDATE staff_users SET is_owner = TRUE WHERE role = 'admin' AND shop_id IN "
        "(SELECT id FROM shops WHERE platform = 'bigcommerce')"
    )


def downgrade() -> None:
    # shops.time_zone still holds the zone in effect, which is what the older code reads.
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("is_owner")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        for column in ("facts_read_at", "primary_domain", "owner_email", "platform_time_zone", "time_zone_override"):
            batch_op.drop_column(column)
