"""The tables of ``shared/``'s machinery: the outbox identity's events leave through, and
``Idempotency-Key`` claims."""

from __future__ import annotations

from services.identity.models.base import Base
from shared.idempotency import IdempotencyKeyMixin
from shared.outbox import OutboxMixin


class OutboxMessage(OutboxMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    """Claimed ``Idempotency-Key`` values and the answers given (``shared.idempotency``)."""
