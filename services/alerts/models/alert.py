"""One row per CAP message (``Alert``: the original alert and each Update or Cancel), Tawny's
own fields on it (workflow state, crime type, audience, channels, author, approvals, geo's
targeting report), and the audit trail of each alert (``AuditEntry``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.alerts.models.base import (
    PSEUDONYM_MAX_LENGTH,
    WARD_CODE_LENGTH,
    Base,
    sql_values,
    text_enum,
)
from services.alerts.models.cap import (
    CapStatus,
    Category,
    Certainty,
    MsgType,
    Scope,
    Severity,
    Urgency,
)
from shared.db import Timestamps, UUIDPrimaryKey

HEADLINE_MAX_LENGTH = 160
BODY_MAX_LENGTH = 5000
INSTRUCTION_MAX_LENGTH = 1000
CONTACT_MAX_LENGTH = 200
WEB_MAX_LENGTH = 500
REFERENCE_MAX_LENGTH = 50
EVENT_MAX_LENGTH = 100
AREA_DESC_MAX_LENGTH = 500
IDENTIFIER_MAX_LENGTH = 200
SENDER_MAX_LENGTH = 200
LANGUAGE_MAX_LENGTH = 35
MAX_TARGET_WARDS = 1000
MAX_TARGET_BOROUGHS = 33


class AlertState(StrEnum):
    """Where an alert is in Tawny's workflow (see ``authoring.service`` for the transitions)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    RESOLVED = "resolved"
    EXPIRED = "expired"


class CrimeType(StrEnum):
    """Tawny's classification of what the alert is about."""

    BURGLARY = "burglary"
    ROBBERY = "robbery"
    VIOLENCE_WITH_INJURY = "violence_with_injury"
    # MOPAC's two vehicle categories, apart as its statistics count them (one merged
    # "vehicle_crime" type until 2026-12; its alerts became theft from motor vehicles).
    THEFT_FROM_MOTOR_VEHICLE = "theft_from_motor_vehicle"
    THEFT_OF_MOTOR_VEHICLE = "theft_of_motor_vehicle"
    THEFT_FROM_PERSON = "theft_from_person"
    CRIMINAL_DAMAGE = "criminal_damage"
    ANTISOCIAL_BEHAVIOUR = "antisocial_behaviour"
    FRAUD_OR_SCAM = "fraud_or_scam"
    MISSING_PERSON = "missing_person"
    WITNESS_APPEAL = "witness_appeal"
    SAFETY_ADVICE = "safety_advice"
    COMMUNITY_EVENT = "community_event"
    ROAD_CLOSURE = "road_closure"
    # Received CAP whose category, event and eventCode say no more (cap/crime_types.py): an
    # officer corrects it before approval.
    OTHER = "other"


class AuthorKind(StrEnum):
    """Who wrote an alert, as the dashboard counts them: police officers, Neighbourhood Watch
    coordinators, and partner agencies (councils, TfL...) including their systems sending CAP."""

    OFFICER = "officer"
    COORDINATOR = "coordinator"
    PARTNER = "partner"


class Audience(StrEnum):
    """Who among the members watching the target should receive it."""

    RESIDENTS = "residents"
    BUSINESSES = "businesses"
    COORDINATORS = "coordinators"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


class Alert(UUIDPrimaryKey, Timestamps, Base):
    """One CAP message. ``id`` is Tawny's id (and, for what Tawny writes, the CAP identifier's
    tail); ``identifier`` and ``sender`` are kept verbatim for messages received as CAP."""

    __tablename__ = "alerts"

    # --- CAP <alert> ---
    identifier: Mapped[str] = mapped_column(String(IDENTIFIER_MAX_LENGTH))
    sender: Mapped[str] = mapped_column(String(SENDER_MAX_LENGTH))
    sent: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cap_status: Mapped[CapStatus] = mapped_column(
        text_enum(CapStatus, "alert_cap_status"), default=CapStatus.ACTUAL
    )
    msg_type: Mapped[MsgType] = mapped_column(
        text_enum(MsgType, "alert_msg_type"), default=MsgType.ALERT
    )
    scope: Mapped[Scope] = mapped_column(text_enum(Scope, "alert_scope"), default=Scope.PUBLIC)
    restriction: Mapped[str | None] = mapped_column(String(200))
    references_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("alerts.id", ondelete="RESTRICT")
    )
    # --- the first CAP <info> ---
    language: Mapped[str] = mapped_column(String(LANGUAGE_MAX_LENGTH), default="en-GB")
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    event: Mapped[str] = mapped_column(String(EVENT_MAX_LENGTH))
    response_types: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list)
    urgency: Mapped[Urgency] = mapped_column(text_enum(Urgency, "alert_urgency"))
    severity: Mapped[Severity] = mapped_column(text_enum(Severity, "alert_severity"))
    certainty: Mapped[Certainty] = mapped_column(
        text_enum(Certainty, "alert_certainty"), default=Certainty.OBSERVED
    )
    headline: Mapped[str] = mapped_column(String(HEADLINE_MAX_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    instruction: Mapped[str | None] = mapped_column(Text)
    web: Mapped[str | None] = mapped_column(String(WEB_MAX_LENGTH))
    contact: Mapped[str | None] = mapped_column(String(CONTACT_MAX_LENGTH))
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Further languages: [{"language", "headline", "description", "instruction"}].
    translations: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # --- the CAP <area> ---
    area_desc: Mapped[str] = mapped_column(String(AREA_DESC_MAX_LENGTH))
    target_ward_codes: Mapped[list[str]] = mapped_column(ARRAY(String(WARD_CODE_LENGTH)))
    target_borough_codes: Mapped[list[str]] = mapped_column(
        ARRAY(String(WARD_CODE_LENGTH)), default=list
    )
    # Every borough the target touches: its borough codes, its wards' boroughs (from the ward
    # map) and, when ward boundaries are configured, the boroughs its circles and polygons
    # touch. An officer of each must approve it. Likewise every ward it touches, for the feeds.
    touched_borough_codes: Mapped[list[str]] = mapped_column(
        ARRAY(String(WARD_CODE_LENGTH)), default=list, server_default="{}"
    )
    touched_ward_codes: Mapped[list[str]] = mapped_column(
        ARRAY(String(WARD_CODE_LENGTH)), default=list, server_default="{}"
    )
    # [{"lat", "lon", "radius_km"}] and [[[lat, lon], ...]] (CAP's own order: latitude first).
    target_circles: Mapped[list[dict[str, float]]] = mapped_column(JSONB, default=list)
    target_polygons: Mapped[list[list[list[float]]]] = mapped_column(JSONB, default=list)
    # --- Tawny's own ---
    state: Mapped[AlertState] = mapped_column(
        text_enum(AlertState, "alert_state"), default=AlertState.DRAFT
    )
    crime_type: Mapped[CrimeType] = mapped_column(text_enum(CrimeType, "alert_crime_type"))
    # Received CAP without tawny:crimeType: derived (cap/crime_types.py), for an officer to check.
    crime_type_derived: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    reference: Mapped[str | None] = mapped_column(String(REFERENCE_MAX_LENGTH))
    audience: Mapped[Audience] = mapped_column(
        text_enum(Audience, "alert_audience"), default=Audience.RESIDENTS
    )
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    # [{"clothing", "height", "build", "vehicle", "distinguishing_marks", "appearance"}]
    suspects: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    no_victim_details_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who wrote it, as the access token names them: a member id and pseudonym, never an
    # email address or a real name. Whether they were an officer decides how many officers
    # must still approve it.
    author_id: Mapped[uuid.UUID]
    author_pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM_MAX_LENGTH))
    author_is_officer: Mapped[bool] = mapped_column(Boolean, default=True)
    # The author's kind for the public dashboard, from their roles when they drafted it. None on
    # alerts older than the dashboard whose author was no officer (roles were not kept then).
    author_kind: Mapped[AuthorKind | None] = mapped_column(
        text_enum(AuthorKind, "alert_author_kind")
    )
    # The touched boroughs an officer author's own area covers: their writing is their sign-off
    # for those. Empty for anyone else.
    author_borough_codes: Mapped[list[str]] = mapped_column(
        ARRAY(String(WARD_CODE_LENGTH)), default=list, server_default="{}"
    )
    # An API client's or member's organisation, from the token: CAP Updates and Cancels from
    # another system are accepted from the organisation that sent the original.
    author_organisation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Each officer's sign-off, in order: [{"officer_id", "pseudonym", "boroughs", "at"}]. On an
    # Update held for approval the officer who asked for it comes first.
    approvals: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    approver_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    # An Update held for approval: what the original becomes when it goes out (updated, or
    # resolved for an outcome).
    release_state: Mapped[AlertState | None] = mapped_column(
        text_enum(AlertState, "alert_release_state")
    )
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Geo's latest report on resolving this message's target (``audience.resolved``): when,
    # how many members it reached, and every part geo could not use
    # ([{"part", "field", "reason", "detail"}]; empty when all went out). None until geo
    # reports; an officer's retry asks geo to resolve it again.
    targeting_reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    targeting_recipients: Mapped[int | None] = mapped_column(Integer)
    targeting_failures: Mapped[list[dict[str, str]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    targeting_retry_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("sender", "identifier", name="uq_alerts_sender_identifier"),
        CheckConstraint(f"char_length(body) BETWEEN 1 AND {BODY_MAX_LENGTH}", name="body_length"),
        CheckConstraint(
            f"cardinality(target_ward_codes) <= {MAX_TARGET_WARDS}"
            f" AND cardinality(target_borough_codes) <= {MAX_TARGET_BOROUGHS}"
            " AND cardinality(target_ward_codes) + cardinality(target_borough_codes) >= 1",
            name="target_geocodes",
        ),
        CheckConstraint(
            "state NOT IN ('published', 'updated', 'cancelled', 'resolved', 'expired')"
            " OR published_at IS NOT NULL",
            name="published_has_time",
        ),
        CheckConstraint("state <> 'scheduled' OR scheduled_for IS NOT NULL", name="scheduled_time"),
        CheckConstraint(
            "(msg_type = 'Alert') = (references_id IS NULL)", name="follow_up_references"
        ),
        CheckConstraint(
            f"categories <@ ARRAY[{sql_values(Category)}]::varchar[]"
            " AND cardinality(categories) >= 1",
            name="categories_known",
        ),
        CheckConstraint(
            f"channels <@ ARRAY[{sql_values(Channel)}]::varchar[] AND cardinality(channels) >= 1",
            name="channels_known",
        ),
        # The officers' list: newest first, optionally one state only.
        Index("ix_alerts_created_at", "created_at"),
        Index("ix_alerts_created_at_id", "created_at", "id"),
        Index("ix_alerts_state_created_at", "state", "created_at"),
        Index("ix_alerts_references_id", "references_id"),
        # What the schedulers look for.
        Index(
            "ix_alerts_scheduled_for",
            "scheduled_for",
            postgresql_where=text("state = 'scheduled'"),
        ),
        Index(
            "ix_alerts_live_expires",
            "expires",
            postgresql_where=text("state IN ('published', 'updated')"),
        ),
        # The public feeds: live alerts touching a ward or a borough.
        Index("ix_alerts_target_ward_codes", "target_ward_codes", postgresql_using="gin"),
        Index("ix_alerts_target_borough_codes", "target_borough_codes", postgresql_using="gin"),
        Index("ix_alerts_touched_ward_codes", "touched_ward_codes", postgresql_using="gin"),
        Index("ix_alerts_touched_borough_codes", "touched_borough_codes", postgresql_using="gin"),
    )


class AuditAction(StrEnum):
    DRAFTED = "drafted"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    UNSCHEDULED = "unscheduled"
    PUBLISHED = "published"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    RESOLVED = "resolved"
    EXPIRED = "expired"
    RECLASSIFIED = "reclassified"


class AuditEntry(UUIDPrimaryKey, Base):
    """Who did what to an alert, and when. Rows are only ever added."""

    __tablename__ = "alert_audit"

    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("alerts.id", ondelete="CASCADE"))
    # The CAP message this produced (an Update's or Cancel's own id), if any.
    message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[AuditAction] = mapped_column(text_enum(AuditAction, "audit_action"))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    # None when the platform itself acted (a schedule fell due, an alert expired).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_pseudonym: Mapped[str | None] = mapped_column(String(PSEUDONYM_MAX_LENGTH))
    note: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_alert_audit_alert_id_at", "alert_id", "at"),)
