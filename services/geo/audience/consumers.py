"""Kafka handlers of audience resolution."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.audience import service
from services.geo.config import GeoSettings
from services.geo.errors import InvalidAreaError
from shared.consumer import PoisonMessageError
from shared.events import AlertPublished, EventEnvelope, Topic
from shared.runtime import ConsumerSpec

AUDIENCE_GROUP = "geo.audience"


def audience_consumer(settings: GeoSettings) -> ConsumerSpec:
    """The consumer group that resolves each published alert's recipients."""
    limits = service.TargetLimits.of(settings)

    async def on_alert_published(
        session: AsyncSession, envelope: EventEnvelope, payload: AlertPublished
    ) -> None:
        try:
            await service.resolve_audience(
                session,
                envelope.event_id,
                payload,
                batch_size=settings.recipient_batch_size,
                limits=limits,
            )
        except InvalidAreaError as error:
            # Retrying cannot make a bad shape good: dead-letter it at once.
            raise PoisonMessageError(f"unusable target: {error.detail}") from error

    return ConsumerSpec(
        group_id=AUDIENCE_GROUP,
        topics=(Topic.ALERTS.value,),
        handlers={AlertPublished: on_alert_published},
    )
