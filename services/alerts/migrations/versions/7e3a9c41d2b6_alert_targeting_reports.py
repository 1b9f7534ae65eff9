"""geo's targeting report per alert message (audience.resolved) and retry requests

Revision ID: 7e3a9c41d2b6
Revises: 5a18181185dd
Create Date: 2026-12-06 21:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7e3a9c41d2b6"
down_revision: str | None = "5a18181185dd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "alerts", sa.Column("targeting_reported_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("alerts", sa.Column("targeting_recipients", sa.Integer(), nullable=True))
    op.add_column(
        "alerts",
        sa.Column(
            "targeting_failures",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
    )
    op.add_column(
        "alerts",
        sa.Column("targeting_retry_requested_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("alerts", "targeting_retry_requested_at")
    op.drop_column("alerts", "targeting_failures")
    op.drop_column("alerts", "targeting_recipients")
    op.drop_column("alerts", "targeting_reported_at")
