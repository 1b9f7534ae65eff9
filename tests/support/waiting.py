"""Waiting on a condition: what tests of asynchronous work (consumers, relays, workers, the
platform as processes) do instead of sleeping or timing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Only a backstop against a condition that never comes: a passing test returns as soon as its
# condition holds, so this is generous enough for a loaded 2-core machine.
DEFAULT_TIMEOUT_S = 120.0


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    interval_s: float = 0.1,
) -> T:
    """Call ``probe`` until it returns something truthy, and return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting after {timeout_s}s; the last answer: {result!r}")
        await asyncio.sleep(interval_s)
