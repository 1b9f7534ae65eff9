"""Members watching each area per month, as geo counts them, for the dashboard's open data

Revision ID: d4a7e2c9b1f6
Revises: b41f7d2e9c3a
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4a7e2c9b1f6"
down_revision: str | None = "b41f7d2e9c3a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_watchers",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("area_kind", sa.String(length=8), nullable=False),
        sa.Column("area_code", sa.String(length=9), nullable=False),
        sa.Column("borough_code", sa.String(length=9), nullable=True),
        sa.Column("members_watching", sa.Integer(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "area_kind", "area_code", name=op.f("pk_dashboard_watchers")
        ),
    )
    op.create_index(
        "ix_dashboard_watchers_borough_month", "dashboard_watchers", ["borough_code", "month"]
    )


def downgrade() -> None:
    op.drop_index("ix_dashboard_watchers_borough_month", table_name="dashboard_watchers")
    op.drop_table("dashboard_watchers")
