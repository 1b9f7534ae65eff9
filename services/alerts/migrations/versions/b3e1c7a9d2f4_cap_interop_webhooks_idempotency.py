"""CAP as the world writes it (crime type "other", derived crime types, reclassification),
partners' delivery webhooks and their delivery log, and Idempotency-Key claims

Revision ID: b3e1c7a9d2f4
Revises: 7e3a9c41d2b6
Create Date: 2026-12-06 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b3e1c7a9d2f4"
down_revision: str | None = "7e3a9c41d2b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CRIME_TYPES = (
    "burglary",
    "robbery",
    "violence_with_injury",
    "vehicle_crime",
    "theft_from_person",
    "criminal_damage",
    "antisocial_behaviour",
    "fraud_or_scam",
    "missing_person",
    "witness_appeal",
    "safety_advice",
    "community_event",
    "road_closure",
)
AUDIT_ACTIONS = (
    "drafted",
    "submitted",
    "returned",
    "approved",
    "scheduled",
    "unscheduled",
    "published",
    "updated",
    "cancelled",
    "resolved",
    "expired",
)


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(table: str, name: str, column: str, values: Sequence[str]) -> None:
    op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
    op.create_check_constraint(name, table, _in(column, values))


def upgrade() -> None:
    _replace_check("alerts", "alert_crime_type", "crime_type", (*CRIME_TYPES, "other"))
    _replace_check("alert_audit", "audit_action", "action", (*AUDIT_ACTIONS, "reclassified"))
    op.add_column(
        "alerts",
        sa.Column(
            "crime_type_derived", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("caller", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column("location", sa.String(length=1000), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("caller", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False
    )
    op.create_table(
        "alert_webhooks",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_webhooks")),
    )
    op.create_index("ix_alert_webhooks_client_id", "alert_webhooks", ["client_id"], unique=False)
    op.create_table(
        "alert_webhook_deliveries",
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column(
            "event",
            sa.Enum(
                "alert.approved",
                "alert.published",
                "alert.updated",
                "alert.cancelled",
                "alert.delivery_totals",
                name="webhook_event",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "delivered",
                "failed",
                name="webhook_delivery_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["alert_webhooks.id"],
            name=op.f("fk_alert_webhook_deliveries_webhook_id_alert_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_webhook_deliveries")),
    )
    op.create_index(
        "ix_alert_webhook_deliveries_due",
        "alert_webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_alert_webhook_deliveries_webhook_created",
        "alert_webhook_deliveries",
        ["webhook_id", "created_at", "id"],
        unique=False,
    )
    # The officers' list pages by (created_at, id) cursors.
    op.create_index("ix_alerts_created_at_id", "alerts", ["created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alerts_created_at_id", table_name="alerts")
    op.drop_index(
        "ix_alert_webhook_deliveries_webhook_created", table_name="alert_webhook_deliveries"
    )
    op.drop_index(
        "ix_alert_webhook_deliveries_due",
        table_name="alert_webhook_deliveries",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("alert_webhook_deliveries")
    op.drop_index("ix_alert_webhooks_client_id", table_name="alert_webhooks")
    op.drop_table("alert_webhooks")
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_column("alerts", "crime_type_derived")
    op.execute("UPDATE alert_audit SET action = 'approved' WHERE action = 'reclassified'")
    _replace_check("alert_audit", "audit_action", "action", AUDIT_ACTIONS)
    op.execute("UPDATE alerts SET crime_type = 'safety_advice' WHERE crime_type = 'other'")
    _replace_check("alerts", "alert_crime_type", "crime_type", CRIME_TYPES)
