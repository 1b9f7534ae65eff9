"""A token bucket: at most ``rate_per_s`` operations per second on average, ``burst`` at once.

One per provider and process. Several dispatcher processes each have their own, so a provider's
limit is divided between them in the settings (``DISPATCH_EMAIL_RATE_PER_S``)."""

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
