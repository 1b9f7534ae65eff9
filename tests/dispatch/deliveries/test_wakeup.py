"""Waking the workers through LISTEN/NOTIFY: a committed batch reaches every listening process;
one rolled back announces nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.deliveries.wakeup import listen_for_due_deliveries
from tests.dispatch.helpers import add_email_endpoint, recipient_batch, unique_email
from tests.support.waiting import eventually


async def record_batch(sessions: async_sessionmaker[AsyncSession], *, commit: bool) -> None:
    member_id = uuid.uuid4()
    async with sessions() as session:
        await add_email_endpoint(
            session, member_id, unique_email(), verified_at=datetime.now(UTC) - timedelta(days=1)
        )
        await DeliveryService(session).record_batch(recipient_batch([member_id]))
        if commit:
            await session.commit()
        else:
            await session.rollback()


class TestWakeUp:
    async def test_a_committed_batch_wakes_every_listening_process(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        engine = quiet_sessions.kw["bind"]
        assert isinstance(engine, AsyncEngine)
        wakes = [0, 0]

        def woken(process: int) -> None:
            wakes[process] += 1

        listeners = [
            asyncio.create_task(listen_for_due_deliveries(engine, lambda: woken(0))),
            asyncio.create_task(listen_for_due_deliveries(engine, lambda: woken(1))),
        ]
        try:
            # Each listener wakes its workers once when it starts listening.
            await eventually(lambda: _async(wakes == [1, 1]))

            await record_batch(quiet_sessions, commit=True)

            await eventually(lambda: _async(min(wakes) >= 2))
        finally:
            for listener in listeners:
                listener.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)

    async def test_a_rolled_back_batch_announces_nothing(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        engine = quiet_sessions.kw["bind"]
        assert isinstance(engine, AsyncEngine)
        wakes: list[str] = []
        listener = asyncio.create_task(
            listen_for_due_deliveries(engine, lambda: wakes.append("woken"))
        )
        try:
            await eventually(lambda: _async(len(wakes) == 1))

            await record_batch(quiet_sessions, commit=False)
            # A committed one after it: notifications arrive in commit order, so once this one
            # is heard, the rolled-back one would have been heard before it.
            await record_batch(quiet_sessions, commit=True)

            await eventually(lambda: _async(len(wakes) >= 2))
            assert len(wakes) == 2
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)


async def _async(value: bool) -> bool:
    return value
