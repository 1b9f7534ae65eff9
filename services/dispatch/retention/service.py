"""Forgetting old alerts: their content (``dispatch_alerts``) and their deliveries, once the
retention (``alert_retention_days``) has passed and none of the deliveries can still be sent.
Every dispatch process runs it every ``purge_interval_s``; deleting is harmless to repeat.

A new batch of a purged alert (geo republishing very late) records the alert again: the
purge never removes an alert whose deliveries could still be sent, so nothing is sent twice
while it is kept, and after the retention an alert is long past its expiry."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.models import MemberExportPart
from services.dispatch.retention.repository import RetentionRepository
from shared.db import session_scope, utcnow
from shared.exports import EXPORT_PART_RETENTION, ExportPartRepository
from shared.logs import get_logger

log = get_logger(__name__)

PURGED = Counter(
    "tawny_dispatch_purged_total", "Rows deleted past the retention, by table", ["table"]
)

# Alerts deleted per transaction: a purge after a long outage stays a series of short ones.
PURGE_CHUNK = 500


async def purge_old_alerts(
    sessions: async_sessionmaker[AsyncSession], *, retention: timedelta
) -> tuple[int, int]:
    """Delete every alert past ``retention`` that is finished; returns (alerts, deliveries)."""
    created_before = utcnow() - retention
    alerts = deliveries = 0
    while True:
        async with session_scope(sessions) as session:
            purged_alerts, purged_deliveries = await RetentionRepository(session).purge_alerts(
                created_before=created_before, limit=PURGE_CHUNK
            )
        alerts += purged_alerts
        deliveries += purged_deliveries
        if purged_alerts < PURGE_CHUNK:
            break
    if alerts:
        PURGED.labels("dispatch_alerts").inc(alerts)
        PURGED.labels("deliveries").inc(deliveries)
        log.info("dispatch.purge.done", alerts=alerts, deliveries=deliveries)
    return alerts, deliveries


async def purge_old_export_parts(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Members' export parts are kept a week for them to download, then deleted."""
    async with session_scope(sessions) as session:
        purged = await ExportPartRepository(session, MemberExportPart).delete_older_than(
            utcnow() - EXPORT_PART_RETENTION
        )
    if purged:
        PURGED.labels("export_parts").inc(purged)
    return purged
