"""members suspended by identity, left out of audience previews

Revision ID: b3d5f7a9c1e2
Revises: 5e7a1c0d9b42
Create Date: 2026-12-06 23:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3d5f7a9c1e2"
down_revision: str | None = "5e7a1c0d9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suspended_members",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_suspended_members")),
    )


def downgrade() -> None:
    op.drop_table("suspended_members")
