"""geo: dense member numbers in the resolution indexes; circles' centre and radius in a
covering area_cells index

Revision ID: 5e7a1c0d9b42
Revises: 83c51072b3b2
Create Date: 2026-12-06 20:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e7a1c0d9b42"
down_revision: str | None = "83c51072b3b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CELL_INCLUDE = [
    "interior",
    "subscription_id",
    "member_no",
    "min_severity",
    "categories_mask",
    "center_lat",
    "center_lon",
    "radius_m",
]


def upgrade() -> None:
    op.create_table(
        "member_numbers",
        sa.Column("member_no", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("member_no", name=op.f("pk_member_numbers")),
        sa.UniqueConstraint("member_id", name=op.f("uq_member_numbers_member_id")),
    )
    # Existing members numbered in member-id order.
    op.execute(
        "INSERT INTO member_numbers (member_id) "
        "SELECT DISTINCT member_id FROM subscriptions ORDER BY member_id"
    )
    for table in ("watched_wards", "area_cells"):
        op.add_column(table, sa.Column("member_no", sa.Integer(), nullable=True))
        op.execute(
            f"UPDATE {table} AS t SET member_no = m.member_no "  # noqa: S608 (fixed names)
            "FROM member_numbers AS m WHERE m.member_id = t.member_id"
        )
        op.alter_column(table, "member_no", nullable=False)
    for column in ("center_lat", "center_lon", "radius_m"):
        op.add_column("area_cells", sa.Column(column, sa.Float(), nullable=True))
    op.execute(
        "UPDATE area_cells AS c SET center_lat = s.center_lat, center_lon = s.center_lon, "
        "radius_m = s.radius_m FROM subscriptions AS s "
        "WHERE s.id = c.subscription_id AND s.kind = 'circle'"
    )
    # A recipient set is random bytes (16 MB for a million): trying to compress it on every
    # write costs a second and saves nothing.
    op.execute("ALTER TABLE alert_recipient_sets ALTER COLUMN members SET STORAGE EXTERNAL")
    # Likewise the outbox's envelopes: a London-wide alert stages 40 MB of them, and
    # compressing each on write doubled the time to stage them (measured: 7.3 s against 3.5 s
    # on a loaded box); rows are deleted once published, so the space is brief.
    op.execute("ALTER TABLE outbox ALTER COLUMN envelope SET STORAGE EXTERNAL")
    op.drop_index("ix_watched_wards_ward_code_member_id", table_name="watched_wards")
    op.create_index(
        "ix_watched_wards_ward_code_member_no",
        "watched_wards",
        ["ward_code", "member_no"],
        postgresql_include=["by_geometry", "min_severity", "categories_mask"],
    )
    op.drop_index("ix_area_cells_key_res", table_name="area_cells")
    op.create_index(
        "ix_area_cells_key_res", "area_cells", ["key", "res"], postgresql_include=_CELL_INCLUDE
    )


def downgrade() -> None:
    op.execute("ALTER TABLE alert_recipient_sets ALTER COLUMN members SET STORAGE EXTENDED")
    op.execute("ALTER TABLE outbox ALTER COLUMN envelope SET STORAGE EXTENDED")
    op.drop_index("ix_area_cells_key_res", table_name="area_cells")
    op.create_index("ix_area_cells_key_res", "area_cells", ["key", "res"])
    op.drop_index("ix_watched_wards_ward_code_member_no", table_name="watched_wards")
    op.create_index(
        "ix_watched_wards_ward_code_member_id",
        "watched_wards",
        ["ward_code", "member_id"],
        postgresql_include=["by_geometry", "min_severity", "categories_mask"],
    )
    for column in ("radius_m", "center_lon", "center_lat", "member_no"):
        op.drop_column("area_cells", column)
    op.drop_column("watched_wards", "member_no")
    op.drop_table("member_numbers")
