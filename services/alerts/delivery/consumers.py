"""Kafka handler of dispatch's delivery counts (``delivery.stats_reported``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.config import AlertsSettings
from services.alerts.delivery.service import record_delivery_stats
from shared.events import DeliveryStatsReported, EventEnvelope, Topic
from shared.runtime import ConsumerSpec

DELIVERY_STATS_GROUP = "alerts.delivery_stats"


def delivery_stats_consumer(settings: AlertsSettings) -> ConsumerSpec:
    async def on_delivery_stats(
        session: AsyncSession, envelope: EventEnvelope, payload: DeliveryStatsReported
    ) -> None:
        await record_delivery_stats(session, payload, settings=settings)

    return ConsumerSpec(
        group_id=DELIVERY_STATS_GROUP,
        topics=(Topic.DELIVERY_STATUS.value,),
        handlers={DeliveryStatsReported: on_delivery_stats},
    )
