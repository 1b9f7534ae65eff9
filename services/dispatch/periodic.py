"""Jobs every dispatch process runs on a timer (the digest, the purge)."""

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
            log.exception("dispatch.periodic.failed", job=name)
        await asyncio.sleep(interval_s)
