"""Members who stopped "vehicle_crime" alerts stop both of MOPAC's vehicle crime types

The alerts service split its "vehicle_crime" type into "theft_from_motor_vehicle" and
"theft_of_motor_vehicle" (alerts migration b41f7d2e9c3a); a member who had unsubscribed from
vehicle crime meant both.

Revision ID: d52e8b07a1f4
Revises: d4e6f8a0b2c4
Create Date: 2026-12-07 00:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d52e8b07a1f4"
down_revision: str | None = "d4e6f8a0b2c4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
UPDATE member_preferences
SET unsubscribed_categories = (
    SELECT coalesce(jsonb_agg(DISTINCT category ORDER BY category), '[]'::jsonb)
    FROM jsonb_array_elements_text(
        (unsubscribed_categories - 'vehicle_crime')
        || '["theft_from_motor_vehicle", "theft_of_motor_vehicle"]'::jsonb
    ) AS category
)
WHERE jsonb_exists(unsubscribed_categories, 'vehicle_crime')
"""

DOWNGRADE = """
UPDATE member_preferences
SET unsubscribed_categories = (
    SELECT coalesce(jsonb_agg(DISTINCT category ORDER BY category), '[]'::jsonb)
    FROM jsonb_array_elements_text(
        (unsubscribed_categories - 'theft_from_motor_vehicle' - 'theft_of_motor_vehicle')
        || '["vehicle_crime"]'::jsonb
    ) AS category
)
WHERE jsonb_exists_any(
    unsubscribed_categories, array['theft_from_motor_vehicle', 'theft_of_motor_vehicle']
)
"""


def upgrade() -> None:
    op.execute(sa.text(UPGRADE))


def downgrade() -> None:
    op.execute(sa.text(DOWNGRADE))
