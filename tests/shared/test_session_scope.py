"""``shared.db.session_scope`` on real PostgreSQL: a transaction that commits when its block
succeeds, rolls back when it raises, and commits before a refusal named in ``kept_on`` goes
on (a write that a refused request must keep)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import build_sessionmaker, session_scope
from tests.support.handled_events import HandledAlert


class CodeRefusedError(Exception):
    """Stands for a refusal that follows a recorded try (a wrong code)."""


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return build_sessionmaker(engine)


async def stored(sessions: async_sessionmaker[AsyncSession], headline: str) -> bool:
    async with sessions() as session:
        found = await session.scalar(select(HandledAlert).where(HandledAlert.headline == headline))
    return found is not None


async def record(session: AsyncSession, headline: str) -> None:
    session.add(HandledAlert(headline=headline))
    await session.flush()


class TestSessionScope:
    async def test_a_block_that_succeeds_is_committed(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        headline = f"kept-{uuid.uuid4()}"
        async with session_scope(sessions) as session:
            await record(session, headline)

        assert await stored(sessions, headline)

    async def test_a_block_that_raises_is_rolled_back(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        headline = f"lost-{uuid.uuid4()}"
        with pytest.raises(CodeRefusedError):
            async with session_scope(sessions) as session:
                await record(session, headline)
                raise CodeRefusedError()

        assert not await stored(sessions, headline)

    async def test_a_refusal_it_keeps_on_commits_the_try_and_still_goes_on(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        headline = f"try-{uuid.uuid4()}"
        with pytest.raises(CodeRefusedError):
            async with session_scope(sessions, kept_on=(CodeRefusedError,)) as session:
                await record(session, headline)
                raise CodeRefusedError()

        assert await stored(sessions, headline)

    async def test_any_other_error_still_rolls_back(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        headline = f"other-{uuid.uuid4()}"
        with pytest.raises(LookupError):
            async with session_scope(sessions, kept_on=(CodeRefusedError,)) as session:
                await record(session, headline)
                raise LookupError("not a refusal that records anything")

        assert not await stored(sessions, headline)
