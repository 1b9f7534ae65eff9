"""The audit log is kept for ``IDENTITY_AUDIT_RETENTION_DAYS``, then its oldest entries are
deleted, oldest first, in chunks. Each chunk moves the chain's anchor (``audit_log_anchor``) to
the last entry it deleted, so the log still verifies from its oldest kept entry and an entry
removed any other way still shows as a broken link. Every identity replica runs the purge every
``IDENTITY_AUDIT_RETENTION_INTERVAL_S``; an advisory lock lets one purge at a time, and the
others skip their turn rather than wait (deleting strictly oldest first keeps the chain whole)."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.audit.repository import AuditRepository
from shared.db import session_scope, utcnow
from shared.logs import get_logger

log = get_logger(__name__)

PURGED = Counter(
    "tawny_identity_purged_total", "Rows deleted past their retention, by table", ["table"]
)

# Entries deleted per transaction: a purge after a long outage stays a series of short ones.
PURGE_CHUNK = 500


class AuditRetention:
    def __init__(self, session: AsyncSession) -> None:
        self._entries = AuditRepository(session)

    async def purge_chunk(self, *, written_before: datetime, limit: int) -> int | None:
        """Delete up to ``limit`` of the oldest entries written before then, stopping at the
        first younger one (the chain loses only its start); None while another replica purges."""
        if not await self._entries.try_lock_purge():
            return None
        last_expired = None
        for entry in await self._entries.oldest(limit):
            if entry.at >= written_before:
                break
            last_expired = entry
        if last_expired is None:
            return 0
        return await self._entries.delete_through(last_expired, now=utcnow())


async def purge_expired_audit(
    sessions: async_sessionmaker[AsyncSession], *, written_before: datetime
) -> int:
    """Delete the audit entries written before then (the oldest ones, up to the first younger
    entry); returns how many this process deleted."""
    purged = 0
    while True:
        async with session_scope(sessions) as session:
            deleted = await AuditRetention(session).purge_chunk(
                written_before=written_before, limit=PURGE_CHUNK
            )
        if deleted is None:
            log.info("identity.audit_retention.skipped", reason="another replica is purging")
            break
        purged += deleted
        if deleted < PURGE_CHUNK:
            break
    if purged:
        PURGED.labels("audit_log").inc(purged)
        log.info("identity.audit_retention.purged", entries=purged)
    return purged
