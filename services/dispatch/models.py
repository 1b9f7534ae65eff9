"""The dispatch database: where each member can be reached, one row per alert delivery, and the
events already handled.

Dispatch knows a member only by id, and by the addresses identity told it were verified. It never
learns names, passwords or the wards a member watches.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import ProcessedEventMixin
from shared.db import Timestamps, UUIDPrimaryKey, new_metadata, utcnow

# RFC 5321's limit on a forward path; the same limit identity applies to members' emails.
ADDRESS_MAX_LENGTH = 254
# An endpoint's address column: long enough for a web push subscription (its endpoint URL and
# keys, as JSON), which push services make several hundred characters long.
ENDPOINT_ADDRESS_MAX_LENGTH = 2048
LAST_ERROR_MAX_LENGTH = 500


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
    attempt, or the alert expired before the member could be reached."""

    PENDING = "pending"
    CREATED = "created"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def _text_enum(enum: type[StrEnum], name: str) -> Enum:
    """A VARCHAR with a CHECK rather than a native PostgreSQL enum: a new channel or status is
    then an ordinary constraint change inside a transactional migration."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class MemberEndpoint(Timestamps, Base):
    """Where one member can be reached on one channel: for email, the address they verified;
    for web push, the browser's subscription as compact JSON (``{"endpoint": ..., "keys":
    {"p256dh": ..., "auth": ...}}``). One per member and channel: a browser subscribing
    replaces the subscription of the member's previous browser."""

    __tablename__ = "member_endpoints"

    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    channel: Mapped[ChannelKind] = mapped_column(
        _text_enum(ChannelKind, "endpoint_channel"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(ENDPOINT_ADDRESS_MAX_LENGTH))
    # When identity recorded the verification (the event's time): a late, older event can
    # then never overwrite a newer address.
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when the channel must not be used (a hard bounce, the member's choice: later issues).
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class Delivery(UUIDPrimaryKey, Timestamps, Base):
    """One alert to one member on one channel, and where it is (see ``DeliveryStatus``)."""

    __tablename__ = "deliveries"

    alert_id: Mapped[uuid.UUID]
    member_id: Mapped[uuid.UUID]
    channel: Mapped[ChannelKind] = mapped_column(_text_enum(ChannelKind, "delivery_channel"))
    status: Mapped[DeliveryStatus] = mapped_column(
        _text_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.CREATED
    )
    priority: Mapped[int] = mapped_column(
        SmallInteger, default=Priority.NORMAL, server_default=str(Priority.NORMAL)
    )
    # When a worker may claim it (``created`` only): now, or later after a temporary failure.
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    # When a worker last claimed it: the sweeper resumes ``sending`` rows claimed too long ago.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Claims so far (one per hand-over attempted or lost to a crash).
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_MAX_LENGTH))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # The guard that makes redelivery harmless: a recipient batch handled twice, even under
        # a new event id, inserts nothing new and so sends nothing twice. Its leading alert_id
        # also serves the per-alert summary.
        UniqueConstraint("alert_id", "member_id", "channel"),
        CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The claim query's order, over only the rows it can take.
        Index(
            "ix_deliveries_claimable",
            "priority",
            "next_attempt_at",
            postgresql_where=text("status = 'created'"),
        ),
        Index("ix_deliveries_sending", "claimed_at", postgresql_where=text("status = 'sending'")),
        Index("ix_deliveries_pending", "member_id", postgresql_where=text("status = 'pending'")),
    )


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the dispatch consumers have handled, recorded with their effects."""
