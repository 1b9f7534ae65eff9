"""A job every replica of a service runs on a timer: the one way Tawny runs periodic work
(retention purges, alerts' scheduler, identity's maintenance, dispatch's digests, sweeper,
delivery totals and backlog gauges). The jobs themselves make running in several replicas at
once safe (``FOR UPDATE SKIP LOCKED``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from shared.logs import get_logger

log = get_logger(__name__)


async def run_every(interval_s: float, job: Callable[[], Awaitable[object]], *, name: str) -> None:
    """Run ``job`` now and then every ``interval_s`` until cancelled; a failure (the database
    is away) is logged and the job tried again at the next tick."""
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic.job_failed", job=name)
        await asyncio.sleep(interval_s)
