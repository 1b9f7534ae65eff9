"""delivery claim leases

A claimed (``sending``) delivery carries a lease, the time it lapses and the process that holds
it; live processes renew their leases, and the sweeper takes back only rows whose lease lapsed
(or that were claimed longer ago than the sending timeout). Rows claimed before this migration
have no lease: the sending timeout still resumes them.

Revision ID: 3f2d8c41a7b5
Revises: 7d3e5a1c9b40
Create Date: 2026-12-06 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f2d8c41a7b5"
down_revision: str | None = "7d3e5a1c9b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "deliveries", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("deliveries", sa.Column("claimed_by", sa.String(length=300), nullable=True))
    op.drop_index(
        "ix_deliveries_sending", table_name="deliveries", postgresql_where="status = 'sending'"
    )
    op.create_index(
        "ix_deliveries_leases",
        "deliveries",
        ["claimed_by"],
        unique=False,
        postgresql_where=sa.text("status = 'sending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_deliveries_leases", table_name="deliveries", postgresql_where="status = 'sending'"
    )
    op.create_index(
        "ix_deliveries_sending",
        "deliveries",
        ["claimed_at"],
        unique=False,
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.drop_column("deliveries", "claimed_by")
    op.drop_column("deliveries", "lease_expires_at")
