"""Who each alert reached (``alert_recipient_sets``) is kept so that its Updates and Cancels
reach the same people, for ``GEO_RECIPIENT_SET_RETENTION_DAYS``; then deleted. An Update
of an alert older than that reaches whoever watches its area then. Every geo process runs the
purge every ``GEO_RETENTION_INTERVAL_S``; ``SKIP LOCKED`` chunks make replicas share it."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.geo.models import MemberExportPart
from services.geo.retention.repository import RetentionRepository
from shared.db import session_scope, utcnow
from shared.exports import EXPORT_PART_RETENTION, ExportPartRepository
from shared.logs import get_logger

log = get_logger(__name__)

PURGED = Counter("tawny_geo_purged_total", "Rows deleted past their retention, by table", ["table"])

# A few recipient sets per transaction: a London-wide one is 16 MB.
PURGE_CHUNK = 20


async def purge_expired_recipient_sets(
    sessions: async_sessionmaker[AsyncSession], *, retention: timedelta
) -> int:
    resolved_before = utcnow() - retention
    purged = 0
    while True:
        async with session_scope(sessions) as session:
            deleted = await RetentionRepository(session).delete_recipient_sets(
                resolved_before=resolved_before, limit=PURGE_CHUNK
            )
        purged += deleted
        if deleted < PURGE_CHUNK:
            break
    async with session_scope(sessions) as session:
        exports = await ExportPartRepository(session, MemberExportPart).delete_older_than(
            utcnow() - EXPORT_PART_RETENTION
        )
    if exports:
        PURGED.labels("export_parts").inc(exports)
    if purged:
        PURGED.labels("alert_recipient_sets").inc(purged)
        log.info("geo.retention.purged", recipient_sets=purged)
    return purged
