"""A token bucket: at most ``rate_per_s`` operations per second on average, ``burst`` at once.

One per provider and process: it spreads a process's sends over time. The deployment-wide limit
(the same rate, whatever the number of dispatchers) is the shared bucket in PostgreSQL that the
delivery workers take a chunk's tokens from before sending (``services.dispatch.ratelimits``)."""

from __future__ import annotations

import asyncio


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: int) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self._rate = rate_per_s
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated: float | None = None
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for a token. Waiters are served in order (the lock is fair)."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            while True:
                now = loop.time()
                if self._updated is not None:
                    elapsed = now - self._updated
                    self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self._rate)
