"""The dashboard's figures as JSON, and the documentation of the open data's columns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.alerts.dashboard.service import Figures
from shared.dashboard import ExactFor

AreaKind = Literal["london", "borough", "ward"]
MONTH_PATTERN = r"^2[0-9]{3}-(0[1-9]|1[0-2])$"
SUPPRESSED_TEXT = "fewer than {n}"

# Every column of the open data, in order, with what it means (the London Datastore's style).
COLUMNS: dict[str, str] = {
    "month": "The calendar month (London time) the alerts were first published in, YYYY-MM",
    "area_kind": "london, borough or ward",
    "area_code": "The area's ONS GSS code (E12000007 for London, E09 boroughs, E05 wards)",
    "borough_code": "A ward's borough (the borough itself for a borough; empty for London)",
    "crime_type": "Tawny's crime type, or all for every crime type together; the MOPAC 7 are "
    "burglary, criminal_damage, theft_from_motor_vehicle, theft_of_motor_vehicle, "
    "violence_with_injury, robbery and theft_from_person",
    "alerts": "Alerts published that touch the area (an alert touching several areas counts in "
    "each, so wards do not add up to their borough)",
    "severity_extreme": "Of those, alerts first published as Extreme",
    "severity_severe": "... as Severe",
    "severity_moderate": "... as Moderate",
    "severity_minor": "... as Minor",
    "severity_unknown": "... with severity Unknown",
    "by_officer": "Alerts written by police officers",
    "by_coordinator": "Alerts written by Neighbourhood Watch coordinators",
    "by_partner": "Alerts written by partner agencies (and their systems sending CAP)",
    "updates": "Updates (including outcomes) published to those alerts",
    "cancelled": "Those alerts that were later cancelled",
    "reached_email": "People the alerts were delivered to by email (per alert, the most any "
    "of its messages reached)",
    "reached_sms": "People the alerts were delivered to by text message",
    "reached_push": "People the alerts were delivered to by app notification",
    "marked_useful": "Members who marked the alerts useful",
    "marked_not_useful": "Members who marked the alerts not useful",
    "replies": "Replies members sent to the alerts",
    "members_watching": "Members watching the area (any subscription touching it; suspended "
    "members left out) at geo's last count in the month, on the rows of all crime types only "
    "(empty on each crime type's row); an area nobody alerted that month has an all row of "
    "zeros with its members watching",
}


class FigureRow(BaseModel):
    """One month, area and crime type. A count from 1 to the threshold minus one is null for
    the public (named in ``suppressed``); zero and larger counts are exact."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "month": "2026-11",
                    "area_kind": "borough",
                    "area_code": "E09000007",
                    "borough_code": "E09000007",
                    "crime_type": "burglary",
                    "alerts": 14,
                    "severity_extreme": 0,
                    "severity_severe": None,
                    "severity_moderate": 11,
                    "severity_minor": None,
                    "severity_unknown": 0,
                    "by_officer": 12,
                    "by_coordinator": None,
                    "by_partner": 0,
                    "updates": None,
                    "cancelled": 0,
                    "reached_email": 5210,
                    "reached_sms": 830,
                    "reached_push": 2240,
                    "marked_useful": 402,
                    "marked_not_useful": 37,
                    "replies": 21,
                    "members_watching": None,
                    "suppressed": [
                        "severity_severe",
                        "severity_minor",
                        "by_coordinator",
                        "updates",
                    ],
                }
            ]
        }
    )

    month: str
    area_kind: AreaKind
    area_code: str
    borough_code: str | None
    crime_type: str
    alerts: int | None
    severity_extreme: int | None
    severity_severe: int | None
    severity_moderate: int | None
    severity_minor: int | None
    severity_unknown: int | None
    by_officer: int | None
    by_coordinator: int | None
    by_partner: int | None
    updates: int | None
    cancelled: int | None
    reached_email: int | None
    reached_sms: int | None
    reached_push: int | None
    marked_useful: int | None
    marked_not_useful: int | None
    replies: int | None
    members_watching: int | None = Field(
        default=None,
        description="On the rows of all crime types: members watching the area (null when "
        "suppressed, then named in suppressed); null on each crime type's row",
    )
    suppressed: list[str] = Field(description="The counts shown as fewer than the threshold")

    @classmethod
    def of(cls, figures: Figures) -> FigureRow:
        return cls.model_validate(
            {
                "month": figures.month.strftime("%Y-%m"),
                "area_kind": figures.area_kind,
                "area_code": figures.area_code,
                "borough_code": figures.borough_code,
                "crime_type": figures.crime_type,
                **figures.counts,
                "suppressed": figures.suppressed,
            }
        )


class FigureList(BaseModel):
    suppress_below: int = Field(description="Counts from 1 to this minus one are suppressed")
    exact_for: ExactFor = Field(description="Whose counts this reader sees unsuppressed")
    rows: list[FigureRow]


class OpenDataMonth(BaseModel):
    month: str
    json_url: str
    csv_url: str


class OpenDataIndex(BaseModel):
    licence: str
    suppress_below: int
    suppressed_as: str = Field(description="How a suppressed count is written in the CSV")
    columns: dict[str, str]
    months: list[OpenDataMonth]


class OpenDataDocument(BaseModel):
    month: str
    suppress_below: int
    columns: dict[str, str]
    rows: list[FigureRow]
