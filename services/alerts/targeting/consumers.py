"""Kafka handler of geo's reports on resolving alerts' targets (``audience.resolved``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.targeting.service import record_report
from shared.events import AudienceResolved, EventEnvelope, Topic
from shared.runtime import ConsumerSpec

TARGETING_GROUP = "alerts.targeting"


async def on_audience_resolved(
    session: AsyncSession, envelope: EventEnvelope, payload: AudienceResolved
) -> None:
    await record_report(session, payload)


def targeting_consumer() -> ConsumerSpec:
    return ConsumerSpec(
        group_id=TARGETING_GROUP,
        topics=(Topic.AUDIENCES.value,),
        handlers={AudienceResolved: on_audience_resolved},
    )
