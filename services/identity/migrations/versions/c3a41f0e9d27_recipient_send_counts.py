"""recipient send counts: per-address limits on verification and password-reset emails

Revision ID: c3a41f0e9d27
Revises: fe5767b32ea3
Create Date: 2026-12-06 20:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3a41f0e9d27"
down_revision: str | None = "fe5767b32ea3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recipient_send_counts",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_recipient_send_counts")),
    )


def downgrade() -> None:
    op.drop_table("recipient_send_counts")
