"""claims by channel: the claim index leads with the channel

Each channel's delivery workers claim only their channel's due rows, so that a slow channel
(SMTP) never holds up a fast one (push). The claim stays an index probe at both ends (the
most urgent and longest due rows, and the newest share) when the index on due ``created``
rows is led by the channel: ``(channel, priority, next_attempt_at)`` replaces
``(priority, next_attempt_at)``.

Built inside the migration's transaction, not ``CONCURRENTLY``: every replica runs the
migrations at start under one advisory lock (shared/migrations.py), and a concurrent build
waits for every older snapshot, a replica's wait for that lock included, which waits for the
build: a deadlock. The build blocks writes to ``deliveries`` while it reads the table once.

Revision ID: 8ec78bb50563
Revises: b5d2e8f1a3c7
Create Date: 2026-12-07 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8ec78bb50563"
down_revision: str | None = "b5d2e8f1a3c7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIMABLE = "status = 'created'"


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_claimable_by_channel",
        "deliveries",
        ["channel", "priority", "next_attempt_at"],
        unique=False,
        postgresql_where=sa.text(CLAIMABLE),
    )
    op.drop_index("ix_deliveries_claimable", table_name="deliveries", postgresql_where=CLAIMABLE)


def downgrade() -> None:
    op.create_index(
        "ix_deliveries_claimable",
        "deliveries",
        ["priority", "next_attempt_at"],
        unique=False,
        postgresql_where=sa.text(CLAIMABLE),
    )
    op.drop_index(
        "ix_deliveries_claimable_by_channel", table_name="deliveries", postgresql_where=CLAIMABLE
    )
