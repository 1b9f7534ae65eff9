"""members' lifecycle: suspended members receive nothing until reinstated; export parts

Revision ID: d4e6f8a0b2c4
Revises: e2b5f8a3c6d1
Create Date: 2026-12-07 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d4e6f8a0b2c4"
down_revision: str | None = "e2b5f8a3c6d1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "export_parts",
        sa.Column("export_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("export_id", name=op.f("pk_export_parts")),
    )
    op.create_index(op.f("ix_export_parts_member_id"), "export_parts", ["member_id"])
    op.create_table(
        "suspended_members",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_suspended_members")),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_export_parts_member_id"), table_name="export_parts")
    op.drop_table("export_parts")
    op.drop_table("suspended_members")
