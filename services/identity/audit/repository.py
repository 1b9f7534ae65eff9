"""Every SQL statement about the audit log."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import AuditEntry

# Appends are serialised so that each entry chains onto the one before it.
_AUDIT_APPEND_LOCK = zlib.crc32(b"tawny-identity:audit-log")


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_appends(self) -> None:
        await self._session.execute(
            text("SELECT pg_advisory_xact_lock(:id)"), {"id": _AUDIT_APPEND_LOCK}
        )

    async def last_hash(self) -> str | None:
        return await self._session.scalar(
            select(AuditEntry.hash).order_by(AuditEntry.position.desc()).limit(1)
        )

    async def add(self, entry: AuditEntry) -> AuditEntry:
        self._session.add(entry)
        await self._session.flush()
        return entry

    async def page(self, *, after: int, limit: int) -> Sequence[AuditEntry]:
        return (
            await self._session.scalars(
                select(AuditEntry)
                .where(AuditEntry.position > after)
                .order_by(AuditEntry.position)
                .limit(limit)
            )
        ).all()

    async def previous_hash_before(self, position: int) -> str | None:
        return await self._session.scalar(
            select(AuditEntry.hash)
            .where(AuditEntry.position < position)
            .order_by(AuditEntry.position.desc())
            .limit(1)
        )
