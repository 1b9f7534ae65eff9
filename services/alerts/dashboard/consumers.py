"""Kafka handler of geo's members-watching counts (``watchers.counted``) for the dashboard."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.config import AlertsSettings
from services.alerts.dashboard.service import DashboardService
from shared.events import EventEnvelope, Topic, WatchersCounted
from shared.runtime import ConsumerSpec

# Its own group on geo's audiences topic: the targeting group's reports are not held up by it.
DASHBOARD_WATCHERS_GROUP = "alerts.dashboard_watchers"


def dashboard_watchers_consumer(settings: AlertsSettings) -> ConsumerSpec:
    async def on_watchers_counted(
        session: AsyncSession, envelope: EventEnvelope, payload: WatchersCounted
    ) -> None:
        await DashboardService(session, settings=settings).record_watchers(payload)

    return ConsumerSpec(
        group_id=DASHBOARD_WATCHERS_GROUP,
        topics=(Topic.AUDIENCES.value,),
        handlers={WatchersCounted: on_watchers_counted},
    )
