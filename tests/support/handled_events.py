"""A throwaway schema for testing the outbox and the idempotent consumer on their own: an outbox,
the processed-events record, and one row per handled event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import ProcessedEventMixin
from shared.db import UUIDPrimaryKey, new_metadata
from shared.events import AlertContent, AlertPublished
from shared.outbox import OutboxMixin


class Base(DeclarativeBase):
    metadata = new_metadata()


class OutboxMessage(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class HandledAlert(UUIDPrimaryKey, Base):
    """What the handler under test writes: one row per handled event."""

    __tablename__ = "handled_alerts"
    headline: Mapped[str] = mapped_column(String(200))


def alert_published(headline: str = "Burglary on Acacia Avenue") -> AlertPublished:
    return AlertPublished(
        content=AlertContent(
            alert_id=uuid.uuid4(),
            headline=headline,
            body="Please check your doors.",
            category="burglary",
            severity="Moderate",
            urgency="Expected",
            sender_name="Tawny",
            sent_at=datetime.now(UTC),
        ),
        target_ward_codes=["E05000001"],
    )
