"""MOPAC's two vehicle crime types apart, the author's kind, and the dashboard's counts

Existing "vehicle_crime" alerts become "theft_from_motor_vehicle": before the split the authoring
form's label read "Theft of or from a motor vehicle", and thefts from vehicles are by far the
larger of the two in MOPAC's figures, so that is the likelier truth for most of them (an
officer can correct one with an Update). Coordinators' and partners' earlier alerts cannot tell
the two apart either, so their author_kind stays empty and the dashboard counts them as partners.

Revision ID: b41f7d2e9c3a
Revises: a17e3c5d9f20
Create Date: 2026-12-07 00:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b41f7d2e9c3a"
down_revision: str | None = "a17e3c5d9f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_TYPES = ("burglary", "robbery", "violence_with_injury")
LATER_TYPES = (
    "theft_from_person",
    "criminal_damage",
    "antisocial_behaviour",
    "fraud_or_scam",
    "missing_person",
    "witness_appeal",
    "safety_advice",
    "community_event",
    "road_closure",
    # Allowed since b3e1c7a9d2f4 (received CAP naming no crime type).
    "other",
)
VEHICLE_TYPES = ("theft_from_motor_vehicle", "theft_of_motor_vehicle")


def _listed(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


NEW_TYPES = _listed((*FIRST_TYPES, *VEHICLE_TYPES, *LATER_TYPES))
OLD_TYPES = _listed((*FIRST_TYPES, "vehicle_crime", *LATER_TYPES))
COUNTS = (
    "alerts",
    "severity_extreme",
    "severity_severe",
    "severity_moderate",
    "severity_minor",
    "severity_unknown",
    "by_officer",
    "by_coordinator",
    "by_partner",
    "updates",
    "cancelled",
    "reached_email",
    "reached_sms",
    "reached_push",
    "marked_useful",
    "marked_not_useful",
    "replies",
)


def _crime_types(allowed: str, old: str, new: str) -> None:
    op.drop_constraint(op.f("ck_alerts_alert_crime_type"), "alerts", type_="check")
    op.execute(sa.text(f"UPDATE alerts SET crime_type = '{new}' WHERE crime_type IN ({old})"))
    op.create_check_constraint(
        op.f("ck_alerts_alert_crime_type"), "alerts", f"crime_type IN ({allowed})"
    )


def upgrade() -> None:
    _crime_types(NEW_TYPES, "'vehicle_crime'", "theft_from_motor_vehicle")
    op.add_column("alerts", sa.Column("author_kind", sa.String(length=32), nullable=True))
    op.create_check_constraint(
        op.f("ck_alerts_alert_author_kind"),
        "alerts",
        "author_kind IN ('officer', 'coordinator', 'partner')",
    )
    op.execute(sa.text("UPDATE alerts SET author_kind = 'officer' WHERE author_is_officer"))
    op.create_table(
        "dashboard_alert_facts",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("crime_type", sa.String(length=32), nullable=False),
        sa.Column("borough_codes", postgresql.ARRAY(sa.String(length=9)), nullable=False),
        sa.Column("ward_codes", postgresql.ARRAY(sa.String(length=9)), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_dashboard_alert_facts_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_dashboard_alert_facts")),
    )
    op.create_table(
        "dashboard_cells",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("area_kind", sa.String(length=8), nullable=False),
        sa.Column("area_code", sa.String(length=9), nullable=False),
        sa.Column("crime_type", sa.String(length=32), nullable=False),
        sa.Column("borough_code", sa.String(length=9), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.PrimaryKeyConstraint(
            "month", "area_kind", "area_code", "crime_type", name=op.f("pk_dashboard_cells")
        ),
    )
    op.create_index(
        "ix_dashboard_cells_area_month",
        "dashboard_cells",
        ["area_kind", "area_code", "month"],
    )
    op.create_index(
        "ix_dashboard_cells_borough_month", "dashboard_cells", ["borough_code", "month"]
    )


def downgrade() -> None:
    op.drop_index("ix_dashboard_cells_borough_month", table_name="dashboard_cells")
    op.drop_index("ix_dashboard_cells_area_month", table_name="dashboard_cells")
    op.drop_table("dashboard_cells")
    op.drop_table("dashboard_alert_facts")
    op.drop_constraint(op.f("ck_alerts_alert_author_kind"), "alerts", type_="check")
    op.drop_column("alerts", "author_kind")
    _crime_types(OLD_TYPES, _listed(VEHICLE_TYPES), "vehicle_crime")
