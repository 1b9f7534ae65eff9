"""account emails

Verification and password-reset emails go through a recorded, retried, exactly-once path like
deliveries: one row per event, claimed under a lease, its outcome recorded once.

Revision ID: e2b5f8a3c6d1
Revises: d7c3a9e15f42
Create Date: 2026-12-07 00:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e2b5f8a3c6d1"
down_revision: str | None = "d7c3a9e15f42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("pending", "created", "held", "sending", "sent", "failed")


def upgrade() -> None:
    op.create_table(
        "account_emails",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "verification",
                "password_reset",
                name="account_email_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                *STATUSES,
                name="account_email_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_account_emails")),
    )
    op.create_index(
        op.f("ix_account_emails_member_id"), "account_emails", ["member_id"], unique=False
    )
    op.create_index(
        "ix_account_emails_claimable",
        "account_emails",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'created'"),
    )
    op.create_index(
        "ix_account_emails_leases",
        "account_emails",
        ["claimed_by"],
        unique=False,
        postgresql_where=sa.text("status = 'sending'"),
    )


def downgrade() -> None:
    op.drop_table("account_emails")
