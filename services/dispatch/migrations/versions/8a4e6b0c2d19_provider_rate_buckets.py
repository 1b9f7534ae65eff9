"""provider rate buckets

One token bucket row per provider (SMTP relay, web push, FCM, Notify), from which every
dispatcher takes tokens in batches, so that a provider's configured rate holds for the whole
deployment whatever the replica count.

Revision ID: 8a4e6b0c2d19
Revises: 3f2d8c41a7b5
Create Date: 2026-12-06 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8a4e6b0c2d19"
down_revision: str | None = "3f2d8c41a7b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_rate_buckets",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_provider_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("provider_rate_buckets")
