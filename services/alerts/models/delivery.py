"""Dispatch's latest delivery totals per CAP message and channel (``delivery.stats_reported``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.alerts.models.base import Base

CHANNEL_NAME_MAX_LENGTH = 16


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
