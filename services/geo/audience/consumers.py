"""Kafka handlers of audience resolution."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.audience.service import AudienceService, TargetLimits
from services.geo.boundaries.service import BoundaryService
from services.geo.config import GeoSettings
from services.geo.targeting.contract import TargetingReportService, usable_parts
from shared.events import AlertPublished, EventEnvelope, TargetingRetryRequested, Topic
from shared.runtime import ConsumerSpec

AUDIENCE_GROUP = "geo.audience"


def audience_consumer(settings: GeoSettings) -> ConsumerSpec:
    """The consumer group that resolves each published alert's recipients, and resolves it
    again when an officer asks for a retry."""
    limits = TargetLimits.of(settings)

    async def on_alert_published(
        session: AsyncSession, envelope: EventEnvelope, payload: AlertPublished
    ) -> None:
        # A part geo cannot use never costs the alert its other parts: those are resolved
        # and delivered, the unusable ones reported to alerts (audience.resolved).
        ward_map = await BoundaryService(session).current_ward_map_or_none()
        checked = usable_parts(payload, ward_map)
        audience = await AudienceService(session).resolve_audience(
            envelope.event_id,
            checked.alert,
            batch_size=settings.recipient_batch_size,
            limits=limits,
        )
        await TargetingReportService(session).report(
            event_id=envelope.event_id,
            alert=payload,
            audience=audience,
            problems=checked.problems,
        )

    return ConsumerSpec(
        group_id=AUDIENCE_GROUP,
        topics=(Topic.ALERTS.value,),
        handlers={
            AlertPublished: on_alert_published,
            # The same resolution afresh: dispatch's one delivery per alert, member and
            # channel keeps those already reached from hearing it twice.
            TargetingRetryRequested: on_alert_published,
        },
    )
