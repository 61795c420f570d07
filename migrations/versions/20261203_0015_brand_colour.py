"""email settings: the shop's brand colour for the customer's pages and emails

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: existing shops keep the app's colour until the merchant picks theirs.
    op.add_column("email_settings", sa.Column("brand_colour", sa.String(length=7), nullable=True))


def downgrade() -> None:
    op.drop_column("email_settings", "brand_colour")
