"""The alerts database: alerts as officers write them, and the outbox their events leave through.

Field names follow OASIS CAP 1.2 (msgType, headline, severity, urgency...) so that the later CAP
model grows out of this one. Tawny's own workflow lives in ``state``: CAP's ``status`` means
something else (Actual, Exercise, Test...) and will get its own column.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Enum, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Timestamps, UUIDPrimaryKey, new_metadata
from shared.outbox import OutboxMixin

HEADLINE_MAX_LENGTH = 160
BODY_MAX_LENGTH = 5000
PSEUDONYM_MAX_LENGTH = 100
WARD_CODE_LENGTH = 9
MAX_TARGET_WARDS = 1000


class Base(DeclarativeBase):
    metadata = new_metadata()


class AlertState(StrEnum):
    """Where an alert is in Tawny's workflow; approval and cancellation will add states."""

    DRAFT = "draft"
    PUBLISHED = "published"


class MsgType(StrEnum):
    """CAP ``msgType``. CAP also has Update, Cancel, Ack and Error; they come with updates."""

    ALERT = "Alert"


class Severity(StrEnum):
    """CAP ``severity``: how bad it is for the people it reaches."""

    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Urgency(StrEnum):
    """CAP ``urgency``: how soon people should act."""

    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class CrimeType(StrEnum):
    """Tawny's classification of what the alert is about; it travels as the CAP category text."""

    BURGLARY = "burglary"
    ROBBERY = "robbery"
    VIOLENCE_WITH_INJURY = "violence_with_injury"
    VEHICLE_CRIME = "vehicle_crime"
    THEFT_FROM_PERSON = "theft_from_person"
    CRIMINAL_DAMAGE = "criminal_damage"
    ANTISOCIAL_BEHAVIOUR = "antisocial_behaviour"
    FRAUD_OR_SCAM = "fraud_or_scam"
    MISSING_PERSON = "missing_person"
    WITNESS_APPEAL = "witness_appeal"
    SAFETY_ADVICE = "safety_advice"
    COMMUNITY_EVENT = "community_event"
    ROAD_CLOSURE = "road_closure"


def _text_enum(enum: type[StrEnum], name: str) -> Enum:
    """A VARCHAR with a CHECK, not a native PostgreSQL enum: adding a value is then an ordinary
    constraint change inside a transactional migration. Stores the values, not member names."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Alert(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "alerts"

    state: Mapped[AlertState] = mapped_column(
        _text_enum(AlertState, "alert_state"), default=AlertState.DRAFT
    )
    msg_type: Mapped[MsgType] = mapped_column(
        _text_enum(MsgType, "alert_msg_type"), default=MsgType.ALERT
    )
    headline: Mapped[str] = mapped_column(String(HEADLINE_MAX_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    crime_type: Mapped[CrimeType] = mapped_column(_text_enum(CrimeType, "alert_crime_type"))
    severity: Mapped[Severity] = mapped_column(_text_enum(Severity, "alert_severity"))
    urgency: Mapped[Urgency] = mapped_column(_text_enum(Urgency, "alert_urgency"))
    target_ward_codes: Mapped[list[str]] = mapped_column(ARRAY(String(WARD_CODE_LENGTH)))
    # Who wrote it, as the access token names them: a member id and pseudonym, never an
    # email address or a real name.
    author_id: Mapped[uuid.UUID]
    author_pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM_MAX_LENGTH))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"char_length(body) BETWEEN 1 AND {BODY_MAX_LENGTH}", name="body_length"),
        CheckConstraint(
            f"cardinality(target_ward_codes) BETWEEN 1 AND {MAX_TARGET_WARDS}",
            name="target_ward_count",
        ),
        CheckConstraint(
            "state <> 'published' OR published_at IS NOT NULL", name="published_has_time"
        ),
        # The officers' list: newest first, optionally one state only.
        Index("ix_alerts_created_at", "created_at"),
        Index("ix_alerts_state_created_at", "state", "created_at"),
    )


class OutboxMessage(OutboxMixin, Base):
    """``AlertPublished`` events wait here, committed with the change that caused them."""
