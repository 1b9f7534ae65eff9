"""audit log retention: the purge may delete the oldest entries; the chain's anchor is kept

Revision ID: f1a7c3d92e50
Revises: e4c2a8f61b37
Create Date: 2026-12-07 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f1a7c3d92e50"
down_revision: str | None = "e4c2a8f61b37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log_anchor",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_log_anchor_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log_anchor")),
    )
    # UPDATE and TRUNCATE stay refused; DELETE only inside the retention purge's transactions,
    # which say so with SET LOCAL (the purge deletes the oldest entries and nothing else).
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()"
    )
    op.execute(
        """
        CREATE FUNCTION audit_log_refuse_delete() RETURNS trigger AS $$
        BEGIN
            IF current_setting('tawny.audit_retention_purge', true) IS DISTINCT FROM 'on' THEN
                RAISE EXCEPTION 'audit_log is append-only';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_purge_only BEFORE DELETE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_delete()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_purge_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_refuse_delete()")
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()"
    )
    op.drop_table("audit_log_anchor")
