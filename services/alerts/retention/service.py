"""Members' replies and their photos are kept for a while, then deleted
(``ALERTS_REPLY_RETENTION_DAYS``, ``ALERTS_REPLY_PHOTO_RETENTION_DAYS``). Every alerts
process runs the purge every ``ALERTS_RETENTION_INTERVAL_S``; chunks locked ``SKIP LOCKED``
let several replicas purge at once without waiting for or repeating each other."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.config import AlertsSettings
from services.alerts.models import MemberExportPart
from services.alerts.retention.repository import RetentionRepository
from shared.db import session_scope, utcnow
from shared.exports import EXPORT_PART_RETENTION, ExportPartRepository
from shared.logs import get_logger

log = get_logger(__name__)

PURGED = Counter(
    "tawny_alerts_purged_total", "Rows deleted past their retention, by table", ["table"]
)

# Rows deleted per transaction: a purge after a long outage stays a series of short ones.
PURGE_CHUNK = 500


async def purge_expired_feedback(
    sessions: async_sessionmaker[AsyncSession], settings: AlertsSettings
) -> tuple[int, int]:
    """Delete photos and replies past their retention, and export parts a week old; returns
    (photos, replies)."""
    now = utcnow()
    photos_before = now - timedelta(days=settings.reply_photo_retention_days)
    replies_before = now - timedelta(days=settings.reply_retention_days)
    photos = replies = 0
    while True:
        async with session_scope(sessions) as session:
            deleted = await RetentionRepository(session).delete_photos(
                uploaded_before=photos_before, limit=PURGE_CHUNK
            )
        photos += deleted
        if deleted < PURGE_CHUNK:
            break
    while True:
        async with session_scope(sessions) as session:
            deleted = await RetentionRepository(session).delete_replies(
                written_before=replies_before, limit=PURGE_CHUNK
            )
        replies += deleted
        if deleted < PURGE_CHUNK:
            break
    async with session_scope(sessions) as session:
        exports = await ExportPartRepository(session, MemberExportPart).delete_older_than(
            now - EXPORT_PART_RETENTION
        )
    if exports:
        PURGED.labels("export_parts").inc(exports)
    if photos or replies:
        PURGED.labels("alert_reply_photos").inc(photos)
        PURGED.labels("alert_replies").inc(replies)
        log.info("alerts.retention.purged", photos=photos, replies=replies)
    return photos, replies
