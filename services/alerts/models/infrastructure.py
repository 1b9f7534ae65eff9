"""The tables of ``shared/``'s machinery: the outbox events leave through, the events the
consumers have handled, and ``Idempotency-Key`` claims."""

from __future__ import annotations

from services.alerts.models.base import Base
from shared.consumer import ProcessedEventMixin
from shared.idempotency import IdempotencyKeyMixin
from shared.outbox import OutboxMixin


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events the alerts consumers have handled, written with their effects."""


class OutboxMessage(OutboxMixin, Base):
    """``AlertPublished`` events wait here, committed with the change that caused them."""


class IdempotencyKey(IdempotencyKeyMixin, Base):
    """Claimed ``Idempotency-Key`` values and the answers given (``shared.idempotency``)."""
