"""Audit entries past their retention are deleted oldest first, younger ones stay, the chain
still verifies from the oldest kept entry, and two replicas purging at once neither fail nor
delete anything twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.audit.retention import PURGE_CHUNK, purge_expired_audit
from services.identity.audit.service import AuditLog
from services.identity.models import AuditAnchor, AuditEntry
from shared.db import session_scope


async def record(sessions: async_sessionmaker[AsyncSession], count: int, run: str) -> list[int]:
    positions = []
    async with session_scope(sessions) as session:
        log = AuditLog(session)
        for number in range(count):
            entry = await log.record("test.retention", actor_id=None, subject=f"{run}:{number}")
            positions.append(entry.position)
    return positions


async def kept(sessions: async_sessionmaker[AsyncSession], positions: list[int]) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).where(AuditEntry.position.in_(positions)))
            or 0
        )


async def whole_chain_breaks(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    broken: list[int] = []
    after = 0
    async with sessions() as session:
        while True:
            entries, page_broken = await AuditLog(session).page(after=after, limit=500)
            if not entries:
                return broken
            broken += page_broken
            after = entries[-1].position


async def written_at(sessions: async_sessionmaker[AsyncSession], position: int) -> datetime:
    """When an entry was written: entries are only ever written now, so "past the retention"
    here means written before a given entry of the test."""
    async with sessions() as session:
        written = await session.scalar(select(AuditEntry.at).where(AuditEntry.position == position))
    assert written is not None
    return written


class TestAuditRetention:
    async def test_old_entries_go_young_ones_stay_and_the_chain_still_verifies(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        run = uuid.uuid4().hex
        old = await record(sessions, PURGE_CHUNK + 20, f"old-{run}")  # more than one chunk
        young = await record(sessions, 3, f"young-{run}")
        cutoff = await written_at(sessions, young[0])

        purged = await purge_expired_audit(sessions, written_before=cutoff)

        assert purged >= len(old)  # other tests' entries written earlier go too
        assert await kept(sessions, old) == 0
        assert await kept(sessions, young) == len(young)
        async with sessions() as session:
            anchor = await session.get(AuditAnchor, 1)
        assert anchor is not None and anchor.position == old[-1]
        assert await whole_chain_breaks(sessions) == []

    async def test_two_replicas_purging_at_once_neither_fail_nor_delete_twice(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        run = uuid.uuid4().hex
        old = await record(sessions, 2 * PURGE_CHUNK + 10, f"old-{run}")
        young = await record(sessions, 2, f"young-{run}")
        cutoff = await written_at(sessions, young[0])

        async with sessions() as session:
            before = await session.scalar(
                select(func.count()).where(AuditEntry.position <= young[-1])
            )

        first, second = await asyncio.gather(
            purge_expired_audit(sessions, written_before=cutoff),
            purge_expired_audit(sessions, written_before=cutoff),
        )

        # Whichever replica holds the lock purges on to the end; the other skips its turn.
        assert await kept(sessions, old) == 0
        assert await kept(sessions, young) == len(young)
        async with sessions() as session:
            after = await session.scalar(
                select(func.count()).where(AuditEntry.position <= young[-1])
            )
        assert before is not None and after is not None
        assert first + second == before - after  # no entry counted by both
        assert await whole_chain_breaks(sessions) == []

    async def test_deleting_beyond_the_anchor_shows_as_a_broken_link(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        run = uuid.uuid4().hex
        await record(sessions, 2, f"old-{run}")
        survivors = await record(sessions, 3, f"young-{run}")
        cutoff = await written_at(sessions, survivors[0])
        await purge_expired_audit(sessions, written_before=cutoff)

        # Someone with the purge's marker removes one more entry without moving the anchor.
        async with session_scope(sessions) as session:
            await session.execute(text("SET LOCAL tawny.audit_retention_purge = 'on'"))
            await session.execute(
                text("DELETE FROM audit_log WHERE position = :position"),
                {"position": survivors[0]},
            )

        assert await whole_chain_breaks(sessions) == [survivors[1]]

        # Purging past the gap moves the anchor on and the chain verifies again.
        cutoff = await written_at(sessions, survivors[2])
        await purge_expired_audit(sessions, written_before=cutoff)
        assert await whole_chain_breaks(sessions) == []

    async def test_a_delete_outside_the_purge_is_still_refused(self, session: AsyncSession) -> None:
        entry = await AuditLog(session).record("test.action", actor_id=None, subject="test:1")
        with pytest.raises(DBAPIError, match="append-only"):
            async with session.begin_nested():
                await session.execute(
                    text("DELETE FROM audit_log WHERE position = :position"),
                    {"position": entry.position},
                )
