"""alert trace context

The W3C trace context of the recipient batch that brought each alert, so that the delivery
workers' sends join the alert's trace (shared/tracing.py). Empty where tracing is off.

Revision ID: 7d3e5a1c9b40
Revises: 161619fab0d6
Create Date: 2026-12-06 23:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7d3e5a1c9b40"
down_revision: str | None = "161619fab0d6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "dispatch_alerts",
        sa.Column("trace_context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("dispatch_alerts", "trace_context")
