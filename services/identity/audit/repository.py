"""Every SQL statement about the audit log."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import AuditAnchor, AuditEntry

# Appends are serialised so that each entry chains onto the one before it.
_AUDIT_APPEND_LOCK = zlib.crc32(b"tawny-identity:audit-log")
# One retention purge at a time, so the oldest entries go strictly in order and the anchor
# always names the last one deleted.
_AUDIT_PURGE_LOCK = zlib.crc32(b"tawny-identity:audit-log-purge")


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

    async def anchor_hash(self) -> str | None:
        return await self._session.scalar(select(AuditAnchor.hash))

    async def try_lock_purge(self) -> bool:
        """True when this transaction may purge; false while another replica is purging."""
        return bool(
            await self._session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _AUDIT_PURGE_LOCK}
            )
        )

    async def oldest(self, limit: int) -> Sequence[AuditEntry]:
        return (
            await self._session.scalars(
                select(AuditEntry).order_by(AuditEntry.position).limit(limit)
            )
        ).all()

    async def delete_through(self, entry: AuditEntry, *, now: datetime) -> int:
        """Delete every entry up to and including ``entry`` and make it the chain's anchor."""
        # The trigger refuses DELETE outside a transaction marked as the retention purge.
        await self._session.execute(text("SET LOCAL tawny.audit_retention_purge = 'on'"))
        result = await self._session.execute(
            delete(AuditEntry).where(AuditEntry.position <= entry.position)
        )
        await self._session.execute(
            insert(AuditAnchor)
            .values(id=1, position=entry.position, hash=entry.hash, purged_at=now)
            .on_conflict_do_update(
                index_elements=[AuditAnchor.id],
                set_={"position": entry.position, "hash": entry.hash, "purged_at": now},
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
