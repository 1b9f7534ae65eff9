"""delivery pipeline

Revision ID: 06b42864d449
Revises: eac7b6db1dec
Create Date: 2026-11-23 13:13:07.918222
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "06b42864d449"
down_revision: str | None = "eac7b6db1dec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


STATUSES_BEFORE = ("created", "sending", "sent", "failed")
STATUSES_AFTER = ("pending", *STATUSES_BEFORE)


def _status_check(statuses: Sequence[str]) -> None:
    # Autogenerate does not see a non-native enum's new value: its CHECK is replaced by hand.
    op.drop_constraint(op.f("ck_deliveries_delivery_status"), "deliveries", type_="check")
    listed = ", ".join(f"'{status}'" for status in statuses)
    op.create_check_constraint(
        op.f("ck_deliveries_delivery_status"), "deliveries", f"status IN ({listed})"
    )


def upgrade() -> None:
    _status_check(STATUSES_AFTER)
    op.create_table(
        "dispatch_alerts",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("deliver_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_dispatch_alerts")),
    )
    op.add_column(
        "deliveries", sa.Column("priority", sa.SmallInteger(), server_default="1", nullable=False)
    )
    op.add_column(
        "deliveries",
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column("deliveries", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_deliveries_claimable",
        "deliveries",
        ["priority", "next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'created'"),
    )
    op.create_index(
        "ix_deliveries_pending",
        "deliveries",
        ["member_id"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_deliveries_sending",
        "deliveries",
        ["claimed_at"],
        unique=False,
        postgresql_where=sa.text("status = 'sending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_deliveries_sending",
        table_name="deliveries",
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.drop_index(
        "ix_deliveries_pending",
        table_name="deliveries",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(
        "ix_deliveries_claimable",
        table_name="deliveries",
        postgresql_where=sa.text("status = 'created'"),
    )
    op.drop_column("deliveries", "claimed_at")
    op.drop_column("deliveries", "next_attempt_at")
    op.drop_column("deliveries", "priority")
    op.drop_table("dispatch_alerts")
    op.execute(
        "UPDATE deliveries SET status = 'failed', last_error = 'no endpoint (downgraded)' "
        "WHERE status = 'pending'"
    )
    _status_check(STATUSES_BEFORE)
