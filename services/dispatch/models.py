"""The dispatch database: where each member can be reached, one row per alert delivery, and the
events already handled.

Dispatch knows a member only by id, and by the addresses identity told it were verified. It never
learns names, passwords or the wards a member watches.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Enum, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import ProcessedEventMixin
from shared.db import Timestamps, UUIDPrimaryKey, new_metadata

# RFC 5321's limit on a forward path; the same limit identity applies to members' emails.
ADDRESS_MAX_LENGTH = 254
LAST_ERROR_MAX_LENGTH = 500


class Base(DeclarativeBase):
    metadata = new_metadata()


class ChannelKind(StrEnum):
    """How a message reaches a member. Web push, mobile push, SMS and letters come later."""

    EMAIL = "email"


class DeliveryStatus(StrEnum):
    """Where one delivery is. ``created``: recorded, not yet handed to its channel;
    ``sending``: being handed over; ``sent``: the provider accepted it (for email, the SMTP
    server said 250); ``failed``: it was refused, or could not be handed over."""

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
    """Where one member can be reached on one channel: for email, the address they verified."""

    __tablename__ = "member_endpoints"

    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    channel: Mapped[ChannelKind] = mapped_column(
        _text_enum(ChannelKind, "endpoint_channel"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(ADDRESS_MAX_LENGTH))
    # When identity recorded the verification (the event's time): a late, older event can
    # then never overwrite a newer address.
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when the channel must not be used (a hard bounce, the member's choice: later issues).
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Delivery(UUIDPrimaryKey, Timestamps, Base):
    """One alert to one member on one channel. ``updated_at`` (from ``Timestamps``) lets a later
    sweeper find deliveries stuck part-way."""

    __tablename__ = "deliveries"

    alert_id: Mapped[uuid.UUID]
    member_id: Mapped[uuid.UUID]
    channel: Mapped[ChannelKind] = mapped_column(_text_enum(ChannelKind, "delivery_channel"))
    status: Mapped[DeliveryStatus] = mapped_column(
        _text_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.CREATED
    )
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
    )


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the dispatch consumers have handled, recorded with their effects."""
