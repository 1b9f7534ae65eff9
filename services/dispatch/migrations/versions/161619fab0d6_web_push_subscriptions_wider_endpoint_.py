"""web push subscriptions: wider endpoint addresses

A browser's push subscription (endpoint URL and keys, as JSON) is stored as its endpoint's
address, and is longer than the 254 characters an email address may have.

Revision ID: 161619fab0d6
Revises: c89e253654af
Create Date: 2026-11-23 14:58:17
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "161619fab0d6"
down_revision: str | None = "c89e253654af"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "member_endpoints",
        "address",
        existing_type=sa.VARCHAR(length=254),
        type_=sa.String(length=2048),
        existing_nullable=False,
    )


def downgrade() -> None:
    # Only subscriptions can be that long; their members subscribe again after an upgrade.
    op.execute("DELETE FROM member_endpoints WHERE length(address) > 254")
    op.alter_column(
        "member_endpoints",
        "address",
        existing_type=sa.String(length=2048),
        type_=sa.VARCHAR(length=254),
        existing_nullable=False,
    )
