"""Subscriptions that chose "vehicle_crime" now choose both of MOPAC's vehicle crime types

Bit 3 of categories_mask was "vehicle_crime" and is now "theft_from_motor_vehicle" (the alerts
service maps the old alerts there too); "theft_of_motor_vehicle" is the new bit 13. Someone who
asked for vehicle crime asked for both, so both bits are set wherever bit 3 was.

Revision ID: a7d20c5e91b3
Revises: b3d5f7a9c1e2
Create Date: 2026-12-07 00:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7d20c5e91b3"
down_revision: str | None = "b3d5f7a9c1e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROM_BIT = 1 << 3
OF_BIT = 1 << 13
MASKED_TABLES = ("subscriptions", "watched_wards", "area_cells")


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE subscriptions SET categories = array_remove(categories, 'vehicle_crime')"
            " || ARRAY['theft_from_motor_vehicle', 'theft_of_motor_vehicle']::varchar[]"
            " WHERE 'vehicle_crime' = ANY(categories)"
        )
    )
    for table in MASKED_TABLES:
        op.execute(
            sa.text(
                f"UPDATE {table} SET categories_mask = categories_mask | {OF_BIT}"
                f" WHERE categories_mask & {FROM_BIT} <> 0"
            )
        )


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE subscriptions SET categories = array_remove(array_remove(categories,"
            " 'theft_from_motor_vehicle'), 'theft_of_motor_vehicle')"
            " || ARRAY['vehicle_crime']::varchar[]"
            " WHERE categories && ARRAY['theft_from_motor_vehicle', 'theft_of_motor_vehicle']"
            "::varchar[]"
        )
    )
    for table in MASKED_TABLES:
        op.execute(
            sa.text(
                f"UPDATE {table} SET categories_mask = (categories_mask & ~{OF_BIT}) | {FROM_BIT}"
                f" WHERE categories_mask & ({FROM_BIT} | {OF_BIT}) <> 0"
            )
        )
