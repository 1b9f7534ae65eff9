"""The hash-chained audit log of staff and admin actions. Flushes, never commits.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own canonical JSON,
so changing, removing or reordering any entry breaks every hash after it. The table also
refuses UPDATE and DELETE (a trigger), so tampering needs the database owner and still shows.
The one exception is the retention purge (``audit.retention``), which deletes the oldest
entries and records the last one's hash as the anchor the oldest kept entry must chain onto.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.audit.repository import AuditRepository
from services.identity.models import AuditEntry
from shared.db import utcnow

GENESIS_HASH = "0" * 64


def entry_hash(
    previous_hash: str,
    *,
    at: datetime,
    actor_id: uuid.UUID | None,
    action: str,
    subject: str,
    details: dict[str, Any],
) -> str:
    canonical = json.dumps(
        {
            "previous": previous_hash,
            "at": at.isoformat(),
            "actor": str(actor_id) if actor_id else None,
            "action": action,
            "subject": subject,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def chain_breaks(entries: Sequence[AuditEntry], previous_hash: str) -> list[int]:
    """Positions whose stored hashes do not match a recomputation from ``previous_hash``."""
    broken: list[int] = []
    for entry in entries:
        expected = entry_hash(
            previous_hash,
            at=entry.at,
            actor_id=entry.actor_id,
            action=entry.action,
            subject=entry.subject,
            details=entry.details,
        )
        if entry.previous_hash != previous_hash or entry.hash != expected:
            broken.append(entry.position)
        previous_hash = entry.hash
    return broken


class AuditLog:
    def __init__(self, session: AsyncSession) -> None:
        self._entries = AuditRepository(session)

    async def record(
        self,
        action: str,
        *,
        actor_id: uuid.UUID | None,
        subject: str,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        details = details or {}
        await self._entries.lock_appends()
        previous = await self._entries.last_hash() or GENESIS_HASH
        # Microseconds survive PostgreSQL's timestamptz, so the hash recomputes exactly.
        at = utcnow()
        return await self._entries.add(
            AuditEntry(
                at=at,
                actor_id=actor_id,
                action=action,
                subject=subject,
                details=details,
                previous_hash=previous,
                hash=entry_hash(
                    previous,
                    at=at,
                    actor_id=actor_id,
                    action=action,
                    subject=subject,
                    details=details,
                ),
            )
        )

    async def page(self, *, after: int, limit: int) -> tuple[Sequence[AuditEntry], list[int]]:
        """Entries after ``after`` and the positions among them whose hashes do not check."""
        entries = await self._entries.page(after=after, limit=limit)
        if not entries:
            return entries, []
        # Before the oldest kept entry: the last one the retention purge deleted (the anchor),
        # or the genesis hash when nothing was ever purged.
        previous = (
            await self._entries.previous_hash_before(entries[0].position)
            or await self._entries.anchor_hash()
        )
        return entries, chain_breaks(entries, previous or GENESIS_HASH)
