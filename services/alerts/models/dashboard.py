"""The public dashboard's counts: one fact per published alert, and running totals per
month, area and crime type kept from them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.alerts.models.base import WARD_CODE_LENGTH, Base


class DashboardAlertFact(Base):
    """What one published alert adds to the dashboard, as last counted from its own rows (the
    original, its follow-ups, their delivery stats, marks and replies). Recounting one alert
    and applying the difference to ``DashboardCell`` is how the cells stay right without ever
    scanning all alerts; the row lock on this fact serialises two recounts of one alert."""

    __tablename__ = "dashboard_alert_facts"

    alert_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    # The first day of the month (London time) the alert was first published in.
    month: Mapped[date] = mapped_column(Date)
    crime_type: Mapped[str] = mapped_column(String(32))
    borough_codes: Mapped[list[str]] = mapped_column(ARRAY(String(WARD_CODE_LENGTH)))
    ward_codes: Mapped[list[str]] = mapped_column(ARRAY(String(WARD_CODE_LENGTH)))
    # The counts as ``DashboardCell`` names them: {"alerts": 1, "severity_severe": 1, ...}.
    counts: Mapped[dict[str, int]] = mapped_column(JSONB)


class DashboardCell(Base):
    """Running totals for one month, area (London, a borough or a ward) and crime type. An
    alert counts once in every area it touches, so wards do not add up to their borough."""

    __tablename__ = "dashboard_cells"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    area_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(WARD_CODE_LENGTH), primary_key=True)
    crime_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    # A ward's borough (the borough itself for a borough; None for London and for wards the
    # ward map places in no borough), so that a borough's wards are one index range.
    borough_code: Mapped[str | None] = mapped_column(String(WARD_CODE_LENGTH))
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    severity_extreme: Mapped[int] = mapped_column(Integer, default=0)
    severity_severe: Mapped[int] = mapped_column(Integer, default=0)
    severity_moderate: Mapped[int] = mapped_column(Integer, default=0)
    severity_minor: Mapped[int] = mapped_column(Integer, default=0)
    severity_unknown: Mapped[int] = mapped_column(Integer, default=0)
    by_officer: Mapped[int] = mapped_column(Integer, default=0)
    by_coordinator: Mapped[int] = mapped_column(Integer, default=0)
    by_partner: Mapped[int] = mapped_column(Integer, default=0)
    updates: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    reached_email: Mapped[int] = mapped_column(Integer, default=0)
    reached_sms: Mapped[int] = mapped_column(Integer, default=0)
    reached_push: Mapped[int] = mapped_column(Integer, default=0)
    marked_useful: Mapped[int] = mapped_column(Integer, default=0)
    marked_not_useful: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_dashboard_cells_borough_month", "borough_code", "month"),
        Index("ix_dashboard_cells_area_month", "area_kind", "area_code", "month"),
    )


class DashboardWatchers(Base):
    """Members watching an area, as geo last counted them in a month (``watchers.counted``):
    counts only, exact; the dashboard suppresses small ones as it does the cells'."""

    __tablename__ = "dashboard_watchers"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    area_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(WARD_CODE_LENGTH), primary_key=True)
    borough_code: Mapped[str | None] = mapped_column(String(WARD_CODE_LENGTH))
    members_watching: Mapped[int] = mapped_column(Integer)
    counted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_dashboard_watchers_borough_month", "borough_code", "month"),)


# The counters of a cell, in the order the open data's columns list them.
DASHBOARD_COUNTS: tuple[str, ...] = (
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
