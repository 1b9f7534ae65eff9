"""The dispatch database: where each member can be reached, one row per alert delivery, and the
events already handled.

Dispatch knows a member only by id, and by the addresses identity told it were verified. It never
learns names, passwords or the wards a member watches.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Index,
    SmallInteger,
    String,
    Time,
    UniqueConstraint,
    bindparam,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import ProcessedEventMixin
from shared.db import Timestamps, UUIDPrimaryKey, new_metadata, text_enum, utcnow
from shared.exports import ExportPartMixin
from shared.members import SuspendedMemberMixin
from shared.outbox import OutboxMixin
from shared.request_limits import RequestCountMixin

# RFC 5321's limit on a forward path; the same limit identity applies to members' emails.
ADDRESS_MAX_LENGTH = 254
# An endpoint's address column: long enough for a web push subscription (its endpoint URL and
# keys, as JSON), which push services make several hundred characters long.
ENDPOINT_ADDRESS_MAX_LENGTH = 2048
LAST_ERROR_MAX_LENGTH = 500
# A SHA-256 in hex.
DEVICE_KEY_LENGTH = 64
# "host/pid/random": a pod name is at most 253 characters.
LEASE_HOLDER_MAX_LENGTH = 300
# Notify's notification ids are UUIDs, FCM's message names "projects/P/messages/ID".
PROVIDER_REFERENCE_MAX_LENGTH = 200


class Base(DeclarativeBase):
    metadata = new_metadata()


class ChannelKind(StrEnum):
    """How a message reaches a member: email (SMTP), web push (a browser's Push API
    subscription), mobile push (an FCM registration token), SMS and letters (a GOV.UK
    Notify-compatible provider)."""

    EMAIL = "email"
    WEBPUSH = "webpush"
    FCM = "fcm"
    SMS = "sms"
    LETTER = "letter"


class DeliveryStatus(StrEnum):
    """Where one delivery is. ``pending``: the member had no usable endpoint when the alert
    came; it is delivered if one is verified before the alert expires. ``created``: recorded,
    waiting for a worker (now, or at ``next_attempt_at`` after a temporary failure);
    ``sending``: claimed by a worker and being handed over; ``sent``: the provider accepted it
    (for email, the SMTP server said 250); ``failed``: refused, given up after the last
    attempt, or the alert expired before the member could be reached. ``held``: a low-severity
    alert kept for the member's daily digest email, due at ``next_attempt_at`` (the digest job
    sends it in one email with the member's other held alerts, then marks it ``sent``)."""

    PENDING = "pending"
    CREATED = "created"
    HELD = "held"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def uuid_array(ids: Sequence[uuid.UUID]) -> BindParameter[Any]:
    """Ids as one ``uuid[]`` parameter, for ``column == any_(...)``: an ``IN`` of hundreds of ids
    would be hundreds of parameters to bind and a new statement for each count."""
    values: Any = list(ids)
    return bindparam(None, values, type_=ARRAY(PG_UUID(as_uuid=True)))


def _text_enum(enum: type[StrEnum], name: str) -> Enum:
    return text_enum(enum, name, length=16)


# The channels a member has one address on (verified addresses): a new one replaces the old.
# On the others (web push, FCM) each browser or app installation is an endpoint of its own.
SINGLE_ENDPOINT_CHANNELS = frozenset({ChannelKind.EMAIL, ChannelKind.SMS, ChannelKind.LETTER})
# ``device_key`` of an endpoint on a single-endpoint channel: the member's one address.
SINGLE_DEVICE_KEY = ""


def device_key(channel: ChannelKind, identity: str) -> str:
    """Which of the member's devices an address belongs to: a hash of what identifies it for
    good (a web push subscription's endpoint URL, an FCM registration token), so registering
    the same device again updates its endpoint rather than adding one. Empty on the channels
    with one address per member."""
    if channel in SINGLE_ENDPOINT_CHANNELS:
        return SINGLE_DEVICE_KEY
    return hashlib.sha256(identity.encode()).hexdigest()


class MemberEndpoint(UUIDPrimaryKey, Timestamps, Base):
    """Where one member can be reached on one channel: for email, the address they verified;
    for web push, one browser's subscription as compact JSON (``{"endpoint": ..., "keys":
    {"p256dh": ..., "auth": ...}}``); for FCM, one app installation's token. One per member
    and channel for email and SMS; one per device for web push and FCM (up to
    ``devices_per_channel``), each removable on its own by its ``id``."""

    __tablename__ = "member_endpoints"

    member_id: Mapped[uuid.UUID]
    channel: Mapped[ChannelKind] = mapped_column(_text_enum(ChannelKind, "endpoint_channel"))
    # ``device_key(channel, ...)``: empty for email and SMS, the device's hash otherwise.
    device_key: Mapped[str] = mapped_column(
        String(DEVICE_KEY_LENGTH), default=SINGLE_DEVICE_KEY, server_default=SINGLE_DEVICE_KEY
    )
    address: Mapped[str] = mapped_column(String(ENDPOINT_ADDRESS_MAX_LENGTH))
    # When identity recorded the verification (the event's time): a late, older event can
    # then never overwrite a newer address.
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when the endpoint must not be used (a hard bounce, a push subscription gone).
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("member_id", "channel", "device_key"),)


class Priority:
    """The claim order: Immediate urgency or Extreme severity first (lower sorts first)."""

    URGENT = 0
    NORMAL = 1


class DispatchAlert(Base):
    """An alert's content, stored once for all its deliveries so a worker can reload any of
    them by id (the recipient batch that brought it is gone once its offset is committed)."""

    __tablename__ = "dispatch_alerts"

    alert_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # ``AlertContent`` as JSON.
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    priority: Mapped[int] = mapped_column(SmallInteger)
    # A member who verifies an address after this gets nothing of the alert: its ``expires``,
    # or ``pending_max_age_s`` after it was sent when it has none.
    deliver_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The W3C trace context of the recipient batch that brought the alert (shared/tracing.py):
    # the workers' sends, whenever and wherever they run, join the alert's trace through it.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class LeasedSendMixin:
    """The columns of a row sent under a lease, that the one claim query works on
    (``services.dispatch.deliveries.repository.claim_due``): deliveries and account emails."""

    # When a worker may claim it (``created`` only): now, or later after a temporary failure.
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    # When a worker last claimed it: the sweeper resumes ``sending`` rows claimed too long ago.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The claim's lease (``sending`` only): the claiming process renews it while it holds the
    # row; once it has lapsed (the process died) the sweeper makes the row due again. On the
    # database's clock, so processes on skewed clocks agree.
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Which dispatch process holds (or last held) the claim: host, pid and a random part.
    claimed_by: Mapped[str | None] = mapped_column(String(LEASE_HOLDER_MAX_LENGTH))
    # Claims so far (one per hand-over attempted or lost to a crash).
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_MAX_LENGTH))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Delivery(UUIDPrimaryKey, LeasedSendMixin, Timestamps, Base):
    """One alert to one member on one channel's endpoint (one of their devices, for web push
    and FCM), and where it is (see ``DeliveryStatus``)."""

    __tablename__ = "deliveries"

    alert_id: Mapped[uuid.UUID]
    member_id: Mapped[uuid.UUID]
    channel: Mapped[ChannelKind] = mapped_column(_text_enum(ChannelKind, "delivery_channel"))
    # The ``member_endpoints`` row it goes to. NULL only while ``pending`` (the member had no
    # endpoint yet: set when it is released), or for a row recorded before devices had ids
    # whose endpoint is gone. No foreign key: removing a device keeps what was sent to it.
    endpoint_id: Mapped[uuid.UUID | None]
    status: Mapped[DeliveryStatus] = mapped_column(
        _text_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.CREATED
    )
    priority: Mapped[int] = mapped_column(
        SmallInteger, default=Priority.NORMAL, server_default=str(Priority.NORMAL)
    )
    # The provider's id for the accepted message, which its delivery receipts quote.
    provider_reference: Mapped[str | None] = mapped_column(String(PROVIDER_REFERENCE_MAX_LENGTH))
    # When the provider's receipt said it reached the member's device (SMS only: email, web
    # push and FCM have no receipts).
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # The guard that makes redelivery harmless: a recipient batch handled twice, even under
        # a new event id, inserts nothing new and so sends nothing twice to any device (NULLS
        # NOT DISTINCT: one pending row, whose endpoint is not known yet, per member and
        # channel). Its leading alert_id also serves the per-alert summary.
        UniqueConstraint(
            "alert_id",
            "member_id",
            "channel",
            "endpoint_id",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The claim query's order, over only the rows it can take: each channel's workers
        # claim their own channel's rows, from both ends of its stretch of the index.
        Index(
            "ix_deliveries_claimable_by_channel",
            "channel",
            "priority",
            "next_attempt_at",
            postgresql_where=text("status = 'created'"),
        ),
        # The claims in flight: renewed by holder, swept by lapsed lease, counted by channel.
        Index("ix_deliveries_leases", "claimed_by", postgresql_where=text("status = 'sending'")),
        Index("ix_deliveries_pending", "member_id", postgresql_where=text("status = 'pending'")),
        Index(
            "ix_deliveries_provider_reference",
            "provider_reference",
            postgresql_where=text("provider_reference IS NOT NULL"),
        ),
        # The status reporter's "did this alert's deliveries change since?".
        Index("ix_deliveries_alert_changes", "alert_id", "updated_at"),
        # The digest job's query: held rows whose digest time has come.
        Index("ix_deliveries_held", "next_attempt_at", postgresql_where=text("status = 'held'")),
    )


LANGUAGE_MAX_LENGTH = 8
CATEGORY_MAX_LENGTH = 64


class MemberPreferences(Timestamps, Base):
    """How one member wants alerts: which channels for which severity, quiet hours, a daily
    digest for low-severity alerts, a language, and what they unsubscribed from. A member
    without a row has the defaults (see ``services.dispatch.preferences.rules``)."""

    __tablename__ = "member_preferences"

    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # CAP severity -> the channels wanted for it, e.g. {"Minor": ["email"], ...}.
    severity_channels: Mapped[dict[str, list[str]]] = mapped_column(JSONB)
    # Wall-clock times in Europe/London; the window may cross midnight (22:00 to 07:00).
    quiet_start: Mapped[time | None] = mapped_column(Time())
    quiet_end: Mapped[time | None] = mapped_column(Time())
    # The London hour the daily digest goes out; NULL: no digest, every alert on its own.
    digest_hour: Mapped[int | None] = mapped_column(SmallInteger)
    # The severities that wait for the digest (when digest_hour is set).
    digest_severities: Mapped[list[str]] = mapped_column(JSONB)
    language: Mapped[str] = mapped_column(String(LANGUAGE_MAX_LENGTH))
    unsubscribed_all: Mapped[bool] = mapped_column(Boolean, default=False)
    unsubscribed_categories: Mapped[list[str]] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint("digest_hour BETWEEN 0 AND 23", name="digest_hour_in_day"),
        CheckConstraint(
            "(quiet_start IS NULL) = (quiet_end IS NULL)", name="quiet_hours_both_or_neither"
        ),
    )


class SentNotice(Base):
    """An account notice already emailed: one email per notice id, however often identity's
    event arrives (a new event id for the same notice included)."""

    __tablename__ = "sent_notices"

    notice_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class SuspendedMember(SuspendedMemberMixin, Base):
    """A member identity suspended (``member.suspended``): new recipient batches record
    nothing for them and what waited to be sent was given up, until ``member.reinstated``."""


class MemberExportPart(ExportPartMixin, Base):
    """Dispatch's part of a member's export (``member.export_requested``): where alerts reach
    them, their preferences and what was sent, kept a few days to download (``shared.exports``)."""


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the dispatch consumers have handled, recorded with their effects."""


class OutboxMessage(OutboxMixin, Base):
    """Events dispatch publishes (delivery totals), staged in the transaction that counted them."""


class LetterStatus(StrEnum):
    """``sent``: the provider accepted it; ``delivered``: its receipt says it was posted (or
    delivered); ``failed``: refused, expired before it could be sent, or the provider gave up."""

    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class Letter(Timestamps, Base):
    """One address-verification letter identity asked for. Never the address nor the code:
    those travel from the event to the provider and nowhere else."""

    __tablename__ = "letters"

    letter_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(index=True)
    status: Mapped[LetterStatus] = mapped_column(_text_enum(LetterStatus, "letter_status"))
    provider_reference: Mapped[str | None] = mapped_column(
        String(PROVIDER_REFERENCE_MAX_LENGTH), unique=True
    )
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_MAX_LENGTH))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PhoneConfirmation(Timestamps, Base):
    """A UK mobile number a member asked to receive alerts on, until they enter the code sent
    to it. Only the code's hash is kept."""

    __tablename__ = "phone_confirmations"

    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # E.164: +447 and nine digits.
    phone_number: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tries_left: Mapped[int] = mapped_column(SmallInteger)

    __table_args__ = (CheckConstraint("tries_left >= 0", name="tries_left_not_negative"),)


class DeliveryStatsReport(Base):
    """The last delivery totals published for one alert, and when a dispatcher last looked:
    a process claims the row (SKIP LOCKED) to report the alert, so processes never report the
    same alert in the same interval, and publishes only when the totals changed."""

    __tablename__ = "delivery_stats_reports"

    alert_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # ``DeliveryStatsReported.channels`` as last published.
    totals: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProviderRateBucket(Base):
    """One provider's token bucket, shared by every dispatcher: its configured rate holds for
    the whole deployment whatever the number of replicas (``services.dispatch.ratelimits``).
    The rate and size are the settings', passed with each take, so a change applies at once."""

    __tablename__ = "provider_rate_buckets"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    tokens: Mapped[float]
    # On the database's clock, like the refill computed from it.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PhoneCodeRequestCount(RequestCountMixin, Base):
    """How many confirmation codes were asked for one phone number in the current window, by
    any member: past the limit, no more are sent to it until the window ends. The key is a
    keyed hash of the number, never the number, so the count keeps no one's number after
    their erasure."""

    __tablename__ = "phone_code_request_counts"


class AccountEmailKind(StrEnum):
    VERIFICATION = "verification"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a kind of email, not a password)


class AccountEmail(LeasedSendMixin, Timestamps, Base):
    """A verification or password-reset email identity asked for, recorded once per event by
    the consumer and sent like a delivery (``services.dispatch.members.account_emails``):
    claimed under the process's lease, retried with backoff, its outcome recorded once."""

    __tablename__ = "account_emails"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[AccountEmailKind] = mapped_column(
        _text_enum(AccountEmailKind, "account_email_kind")
    )
    # The event's payload (address and link): cleared once the email is sent or given up.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[DeliveryStatus] = mapped_column(
        _text_enum(DeliveryStatus, "account_email_status"), default=DeliveryStatus.CREATED
    )

    __table_args__ = (
        Index(
            "ix_account_emails_claimable",
            "next_attempt_at",
            postgresql_where=text("status = 'created'"),
        ),
        Index(
            "ix_account_emails_leases", "claimed_by", postgresql_where=text("status = 'sending'")
        ),
    )
