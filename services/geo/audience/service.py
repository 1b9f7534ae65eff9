"""Resolving an alert's audience: every member subscribed to a targeted ward, once, in batches
staged through the outbox in the same transaction as the record of the resolution."""

from __future__ import annotations

import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.audience import repository
from services.geo.models import AlertAudience, OutboxMessage
from shared.events import AlertPublished, RecipientBatch
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

PRODUCER = "geo"


async def resolve_audience(
    session: AsyncSession, event_id: uuid.UUID, alert: AlertPublished, *, batch_size: int
) -> AlertAudience:
    """Stage one RecipientBatch per ``batch_size`` members and record the resolution.

    An alert nobody watches records a count of 0 and stages nothing. Idempotence on
    redelivery is the consumer's (processed_events), since this runs in its transaction."""
    started = time.perf_counter()
    ward_codes = sorted(set(alert.target_ward_codes))
    recipients = 0
    batches = 0
    async for member_ids in repository.member_ids_in_batches(session, ward_codes, batch_size):
        await add_event(
            session,
            OutboxMessage,
            RecipientBatch(content=alert.content, batch_number=batches, member_ids=member_ids),
            producer=PRODUCER,
        )
        recipients += len(member_ids)
        batches += 1
    audience = AlertAudience(
        alert_id=alert.content.alert_id,
        event_id=event_id,
        recipient_count=recipients,
        batch_count=batches,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    await repository.add_audience(session, audience)
    log.info(
        "geo.audience.resolved",
        alert_id=str(alert.content.alert_id),
        event_id=str(event_id),
        wards=len(ward_codes),
        recipients=recipients,
        batches=batches,
        duration_ms=audience.duration_ms,
    )
    return audience
