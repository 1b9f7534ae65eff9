"""The alerts database: one row per CAP 1.2 message, an audit trail per alert, and the outbox.

Field names follow OASIS CAP 1.2. A row is one CAP *message*: an Update or a Cancel is a new row
with its own identifier whose ``references_id`` points at the original alert. Tawny's workflow
lives on the original in ``state``; CAP's own ``status`` (Actual, Exercise, Test...) is
``cap_status``. The first CAP ``info`` block is stored in columns; further languages of the
same alert are ``translations`` (CAP repeats category, urgency and so on in each info block, and
Tawny keeps them the same across languages).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import ProcessedEventMixin
from shared.db import Timestamps, UUIDPrimaryKey, new_metadata, utcnow
from shared.exports import ExportPartMixin
from shared.idempotency import IdempotencyKeyMixin
from shared.members import SuspendedMemberMixin
from shared.outbox import OutboxMixin

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
PSEUDONYM_MAX_LENGTH = 100
WARD_CODE_LENGTH = 9
CHANNEL_NAME_MAX_LENGTH = 16
MAX_TARGET_WARDS = 1000
MAX_TARGET_BOROUGHS = 33


class Base(DeclarativeBase):
    metadata = new_metadata()


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


class MsgType(StrEnum):
    """CAP ``msgType``. Tawny never sends Ack or Error."""

    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class CapStatus(StrEnum):
    """CAP ``status``: only Actual alerts reach residents."""

    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class Scope(StrEnum):
    """CAP ``scope``. Private (named addresses) is not something Tawny does."""

    PUBLIC = "Public"
    RESTRICTED = "Restricted"


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class Category(StrEnum):
    """CAP ``category`` values."""

    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class ResponseType(StrEnum):
    SHELTER = "Shelter"
    EVACUATE = "Evacuate"
    PREPARE = "Prepare"
    EXECUTE = "Execute"
    AVOID = "Avoid"
    MONITOR = "Monitor"
    ASSESS = "Assess"
    ALL_CLEAR = "AllClear"
    NONE = "None"


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


def _values(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


class Alert(UUIDPrimaryKey, Timestamps, Base):
    """One CAP message. ``id`` is Tawny's id (and, for what Tawny writes, the CAP identifier's
    tail); ``identifier`` and ``sender`` are kept verbatim for messages received as CAP."""

    __tablename__ = "alerts"

    # --- CAP <alert> ---
    identifier: Mapped[str] = mapped_column(String(IDENTIFIER_MAX_LENGTH))
    sender: Mapped[str] = mapped_column(String(SENDER_MAX_LENGTH))
    sent: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cap_status: Mapped[CapStatus] = mapped_column(
        _text_enum(CapStatus, "alert_cap_status"), default=CapStatus.ACTUAL
    )
    msg_type: Mapped[MsgType] = mapped_column(
        _text_enum(MsgType, "alert_msg_type"), default=MsgType.ALERT
    )
    scope: Mapped[Scope] = mapped_column(_text_enum(Scope, "alert_scope"), default=Scope.PUBLIC)
    restriction: Mapped[str | None] = mapped_column(String(200))
    references_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("alerts.id", ondelete="RESTRICT")
    )
    # --- the first CAP <info> ---
    language: Mapped[str] = mapped_column(String(LANGUAGE_MAX_LENGTH), default="en-GB")
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    event: Mapped[str] = mapped_column(String(EVENT_MAX_LENGTH))
    response_types: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list)
    urgency: Mapped[Urgency] = mapped_column(_text_enum(Urgency, "alert_urgency"))
    severity: Mapped[Severity] = mapped_column(_text_enum(Severity, "alert_severity"))
    certainty: Mapped[Certainty] = mapped_column(
        _text_enum(Certainty, "alert_certainty"), default=Certainty.OBSERVED
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
        _text_enum(AlertState, "alert_state"), default=AlertState.DRAFT
    )
    crime_type: Mapped[CrimeType] = mapped_column(_text_enum(CrimeType, "alert_crime_type"))
    # Received CAP without tawny:crimeType: derived (cap/crime_types.py), for an officer to check.
    crime_type_derived: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    reference: Mapped[str | None] = mapped_column(String(REFERENCE_MAX_LENGTH))
    audience: Mapped[Audience] = mapped_column(
        _text_enum(Audience, "alert_audience"), default=Audience.RESIDENTS
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
        _text_enum(AuthorKind, "alert_author_kind")
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
        _text_enum(AlertState, "alert_release_state")
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
            f"categories <@ ARRAY[{_values(Category)}]::varchar[] AND cardinality(categories) >= 1",
            name="categories_known",
        ),
        CheckConstraint(
            f"channels <@ ARRAY[{_values(Channel)}]::varchar[] AND cardinality(channels) >= 1",
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
    action: Mapped[AuditAction] = mapped_column(_text_enum(AuditAction, "audit_action"))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    # None when the platform itself acted (a schedule fell due, an alert expired).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_pseudonym: Mapped[str | None] = mapped_column(String(PSEUDONYM_MAX_LENGTH))
    note: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_alert_audit_alert_id_at", "alert_id", "at"),)


REPLY_MAX_LENGTH = 1000


class Usefulness(Timestamps, Base):
    """One member's mark on one alert: useful or not. Marking again replaces the mark."""

    __tablename__ = "alert_usefulness"

    alert_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    useful: Mapped[bool] = mapped_column(Boolean)


class Reply(UUIDPrimaryKey, Timestamps, Base):
    """A member's reply to an alert, for the authoring team's inbox, and staff's answer.
    The member appears by id and pseudonym only."""

    __tablename__ = "alert_replies"

    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("alerts.id", ondelete="CASCADE"))
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    member_pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM_MAX_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    answered_by_pseudonym: Mapped[str | None] = mapped_column(String(PSEUDONYM_MAX_LENGTH))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            f"char_length(text) BETWEEN 1 AND {REPLY_MAX_LENGTH}", name="reply_text_length"
        ),
        CheckConstraint(
            f"answer IS NULL OR char_length(answer) BETWEEN 1 AND {REPLY_MAX_LENGTH}",
            name="reply_answer_length",
        ),
        Index("ix_alert_replies_alert_id_created_at", "alert_id", "created_at"),
        # The per-member rate limit counts a member's recent replies.
        Index("ix_alert_replies_member_id_created_at", "member_id", "created_at"),
    )


IMAGE_DESCRIPTION_MAX_LENGTH = 200
MAX_IMAGES_PER_ALERT = 3


class ImageBlobMixin:
    """An uploaded picture as stored: re-encoded, so none of what the uploader's camera or
    editor wrote into the file (EXIF with GPS, XMP, comments) survives. ``sha1`` is what CAP's
    ``resource/digest`` names."""

    mime_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha1: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertImage(ImageBlobMixin, Base):
    """One of an alert's pictures (up to three), numbered from 1 in the order shown."""

    __tablename__ = "alert_images"

    alert_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(String(IMAGE_DESCRIPTION_MAX_LENGTH))

    __table_args__ = (
        CheckConstraint(
            f"position BETWEEN 1 AND {MAX_IMAGES_PER_ALERT}", name="alert_image_position"
        ),
    )


class ReplyPhoto(ImageBlobMixin, Base):
    """The photo a member attached to their reply (at most one)."""

    __tablename__ = "alert_reply_photos"

    reply_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_replies.id", ondelete="CASCADE"), primary_key=True
    )


class DeliveryStats(Base):
    """Dispatch's latest running totals for one CAP message on one channel. Dispatch reports
    totals, not increments, so only a report with a later ``as_of`` replaces a row."""

    __tablename__ = "alert_delivery_stats"

    # The message (an original, Update or Cancel) as dispatch knows it; no foreign key, so a
    # report about a message this database does not hold is dropped by the consumer, not stuck.
    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    channel: Mapped[str] = mapped_column(String(CHANNEL_NAME_MAX_LENGTH), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recipients: Mapped[int] = mapped_column(Integer)
    sent: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint(
            "recipients >= 0 AND sent >= 0 AND delivered >= 0 AND failed >= 0",
            name="counts_not_negative",
        ),
    )


class SuspendedMember(SuspendedMemberMixin, Base):
    """A member identity suspended (``member.suspended``): they may not reply to alerts nor mark
    them until ``member.reinstated`` removes the row. Their access token may still be valid
    for up to 15 minutes, so its signature alone does not say whether they may act."""


class MemberExportPart(ExportPartMixin, Base):
    """Alerts' part of a member's export (``member.export_requested``): their replies and
    marks, kept a few days for them to download (``shared.exports``)."""


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the alerts consumers have handled, written with their effects."""


class OutboxMessage(OutboxMixin, Base):
    """``AlertPublished`` events wait here, committed with the change that caused them."""


class IdempotencyKey(IdempotencyKeyMixin, Base):
    """Claimed ``Idempotency-Key`` values and the answers given (``shared.idempotency``)."""


WEBHOOK_URL_MAX_LENGTH = 1000
WEBHOOK_SECRET_MAX_LENGTH = 200


class WebhookEvent(StrEnum):
    """What a partner's webhook is told about its alerts."""

    APPROVED = "alert.approved"
    PUBLISHED = "alert.published"
    UPDATED = "alert.updated"
    CANCELLED = "alert.cancelled"
    DELIVERY_TOTALS = "alert.delivery_totals"


class WebhookDeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Webhook(UUIDPrimaryKey, Timestamps, Base):
    """An API client's callback URL: told about the alerts it sent (author_id = client id).
    The secret signs each callback (HMAC-SHA256); it is never returned."""

    __tablename__ = "alert_webhooks"

    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    url: Mapped[str] = mapped_column(String(WEBHOOK_URL_MAX_LENGTH))
    secret: Mapped[str] = mapped_column(String(WEBHOOK_SECRET_MAX_LENGTH))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    __table_args__ = (Index("ix_alert_webhooks_client_id", "client_id"),)


class WebhookDelivery(UUIDPrimaryKey, Timestamps, Base):
    """One callback to one webhook, written in the transaction of the change it reports (so it
    is never lost, and never written twice), then sent by ``webhooks.worker`` with retries.
    Its id is the ``Tawny-Webhook-Id`` header, the same on every attempt: receivers drop
    repeats by it. The rows are the delivery log the client reads."""

    __tablename__ = "alert_webhook_deliveries"

    webhook_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_webhooks.id", ondelete="CASCADE")
    )
    event: Mapped[WebhookEvent] = mapped_column(_text_enum(WebhookEvent, "webhook_event"))
    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        _text_enum(WebhookDeliveryStatus, "webhook_delivery_status"),
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # The worker's claim: due pending deliveries, oldest first.
        Index(
            "ix_alert_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # The client's log: a webhook's deliveries, newest first.
        Index("ix_alert_webhook_deliveries_webhook_created", "webhook_id", "created_at", "id"),
    )


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
