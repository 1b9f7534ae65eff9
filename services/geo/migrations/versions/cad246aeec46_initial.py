"""initial: boundary sets, boroughs, wards, subscriptions, alert audiences, outbox

Revision ID: cad246aeec46
Revises:
Create Date: 2026-11-23 12:05:30.869226
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "cad246aeec46"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_audiences",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("batch_count", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_audiences")),
        sa.UniqueConstraint("event_id", name=op.f("uq_alert_audiences_event_id")),
    )
    op.create_index(
        op.f("ix_alert_audiences_alert_id"), "alert_audiences", ["alert_id"], unique=False
    )
    op.create_table(
        "boundary_sets",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("borough_count", sa.Integer(), nullable=False),
        sa.Column("ward_count", sa.Integer(), nullable=False),
        sa.Column("vertex_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boundary_sets")),
    )
    op.create_index(
        "uq_boundary_sets_is_current",
        "boundary_sets",
        ["is_current"],
        unique=True,
        postgresql_where=sa.text("is_current"),
    )
    op.create_table(
        "outbox",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("envelope", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["position"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "subscriptions",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("ward_code", sa.String(length=9), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint(
            "member_id", "ward_code", name=op.f("uq_subscriptions_member_id_ward_code")
        ),
    )
    op.create_index(
        "ix_subscriptions_ward_code_member_id",
        "subscriptions",
        ["ward_code", "member_id"],
        unique=False,
    )
    op.create_table(
        "boroughs",
        sa.Column("set_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("geometry", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["boundary_sets.id"],
            name=op.f("fk_boroughs_set_id_boundary_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("set_id", "code", name=op.f("pk_boroughs")),
    )
    op.create_table(
        "wards",
        sa.Column("set_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("borough_code", sa.String(length=9), nullable=False),
        sa.Column("geometry", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_id", "borough_code"],
            ["boroughs.set_id", "boroughs.code"],
            name=op.f("fk_wards_set_id_boroughs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["boundary_sets.id"],
            name=op.f("fk_wards_set_id_boundary_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("set_id", "code", name=op.f("pk_wards")),
    )
    op.create_index(
        "ix_wards_set_id_borough_code", "wards", ["set_id", "borough_code"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_wards_set_id_borough_code", table_name="wards")
    op.drop_table("wards")
    op.drop_table("boroughs")
    op.drop_index("ix_subscriptions_ward_code_member_id", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("processed_events")
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_table("outbox")
    op.drop_index(
        "uq_boundary_sets_is_current",
        table_name="boundary_sets",
        postgresql_where=sa.text("is_current"),
    )
    op.drop_table("boundary_sets")
    op.drop_index(op.f("ix_alert_audiences_alert_id"), table_name="alert_audiences")
    op.drop_table("alert_audiences")
