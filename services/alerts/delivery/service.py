"""Dispatch's delivery counts: kept per CAP message and channel, the latest report winning."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.repository import AlertRepository
from services.alerts.config import AlertsSettings
from services.alerts.dashboard.service import DashboardService
from services.alerts.delivery.repository import DeliveryStatsRepository
from services.alerts.models import CHANNEL_NAME_MAX_LENGTH
from services.alerts.webhooks.service import CallbackRecorder
from shared.events import DeliveryStatsReported
from shared.logs import get_logger

log = get_logger(__name__)


async def record_delivery_stats(
    session: AsyncSession, report: DeliveryStatsReported, *, settings: AlertsSettings
) -> bool:
    """Keep the report's totals; False when it is about a message this service never wrote
    (nothing to attach it to, and retrying would not change that)."""
    if await AlertRepository(session).get(report.alert_id) is None:
        log.warning("alerts.delivery_stats.unknown_alert", alert_id=str(report.alert_id))
        return False
    channels = {
        name: counts
        for name, counts in report.channels.items()
        if 0 < len(name) <= CHANNEL_NAME_MAX_LENGTH
    }
    if len(channels) < len(report.channels):
        log.warning(
            "alerts.delivery_stats.channel_name_refused",
            alert_id=str(report.alert_id),
            refused=len(report.channels) - len(channels),
        )
    await DeliveryStatsRepository(session).keep_latest(report.alert_id, report.as_of, channels)
    await DashboardService(session, settings=settings).recount(report.alert_id)
    await _tell_partner(session, report)
    return True


async def _tell_partner(session: AsyncSession, report: DeliveryStatsReported) -> None:
    """The author's webhooks hear the message's latest totals (a callback waiting unsent is
    refreshed rather than joined by another)."""
    alerts = AlertRepository(session)
    message = await alerts.get(report.alert_id)
    assert message is not None, "checked by the caller"
    original = message if message.references_id is None else await alerts.get(message.references_id)
    if original is None:
        return
    totals = await DeliveryStatsRepository(session).for_messages([message.id])
    await CallbackRecorder(session).delivery_totals(original, message, totals)
