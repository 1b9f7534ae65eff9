"""Waking every dispatcher's workers when deliveries become due, without polling for them.

A transaction that makes rows due (a recipient batch recorded, pending rows released, the
sweeper resuming stuck ones) also runs ``NOTIFY`` (:meth:`DeliveryRepository.announce_due`);
PostgreSQL delivers it to every listening session when, and only if, that transaction commits.
Each process holds one connection that ``LISTEN``s and wakes its workers on every notification,
so an idle worker can back off to ``idle_poll_max_s`` between claims and still start within
milliseconds of rows arriving from any process.

The notification is only a wake-up: the rows are the truth. If the connection is lost, the
workers go on polling (backed off) while it is re-established, and nothing is missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.dispatch.deliveries.repository import DELIVERIES_DUE_CHANNEL
from shared.logs import get_logger

log = get_logger(__name__)

RECONNECT_DELAY_S = 5.0


async def listen_for_due_deliveries(engine: AsyncEngine, on_due: Callable[[], None]) -> None:
    """Call ``on_due`` for every notification on the deliveries channel, until cancelled."""
    while True:
        try:
            await _listen_until_lost(engine, on_due)
            log.warning("dispatch.wakeup.connection_lost")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("dispatch.wakeup.failed", exc_info=True)
        await asyncio.sleep(RECONNECT_DELAY_S)


async def _listen_until_lost(engine: AsyncEngine, on_due: Callable[[], None]) -> None:
    def notified(*_args: Any) -> None:
        on_due()

    lost = asyncio.Event()
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        listener = raw.driver_connection
        assert listener is not None
        listener.add_termination_listener(lambda _connection: lost.set())
        await listener.add_listener(DELIVERIES_DUE_CHANNEL, notified)
        log.info("dispatch.wakeup.listening", channel=DELIVERIES_DUE_CHANNEL)
        # Rows announced before we listened would otherwise wait for the next poll.
        on_due()
        try:
            await lost.wait()
        finally:
            if not listener.is_closed():
                await listener.remove_listener(DELIVERIES_DUE_CHANNEL, notified)
