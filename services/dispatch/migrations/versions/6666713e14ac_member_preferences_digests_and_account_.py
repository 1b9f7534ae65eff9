"""member preferences, digests and account notices

Revision ID: 6666713e14ac
Revises: 5c1f0a7e9b21
Create Date: 2026-11-23 14:47:50.946433
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "6666713e14ac"
down_revision: str | None = "5c1f0a7e9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES_BEFORE = ("pending", "created", "sending", "sent", "failed")
STATUSES_AFTER = (*STATUSES_BEFORE, "held")


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
        "member_preferences",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("severity_channels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("digest_hour", sa.SmallInteger(), nullable=True),
        sa.Column("digest_severities", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("unsubscribed_all", sa.Boolean(), nullable=False),
        sa.Column(
            "unsubscribed_categories", postgresql.JSONB(astext_type=sa.Text()), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "(quiet_start IS NULL) = (quiet_end IS NULL)",
            name=op.f("ck_member_preferences_quiet_hours_both_or_neither"),
        ),
        sa.CheckConstraint(
            "digest_hour BETWEEN 0 AND 23", name=op.f("ck_member_preferences_digest_hour_in_day")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_preferences")),
    )
    op.create_table(
        "sent_notices",
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column(
            "sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("notice_id", name=op.f("pk_sent_notices")),
    )
    op.create_index(
        "ix_deliveries_held",
        "deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'held'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_deliveries_held", table_name="deliveries", postgresql_where=sa.text("status = 'held'")
    )
    op.drop_table("sent_notices")
    op.drop_table("member_preferences")
    # A held alert can no longer wait for a digest: it is sent on its own.
    op.execute(
        "UPDATE deliveries SET status = 'created', next_attempt_at = now() WHERE status = 'held'"
    )
    _status_check(STATUSES_BEFORE)
