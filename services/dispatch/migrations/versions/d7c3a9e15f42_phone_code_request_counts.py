"""phone code request counts

Confirmation codes asked for per phone number in a window, whichever member asked, so that
Tawny cannot be used to flood someone's phone with texts. Keyed by an HMAC of the number.

Revision ID: d7c3a9e15f42
Revises: 8a4e6b0c2d19
Create Date: 2026-12-06 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7c3a9e15f42"
down_revision: str | None = "8a4e6b0c2d19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phone_code_request_counts",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_phone_code_request_counts")),
    )


def downgrade() -> None:
    op.drop_table("phone_code_request_counts")
