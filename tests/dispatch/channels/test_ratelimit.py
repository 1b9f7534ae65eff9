"""The per-provider token bucket."""

from __future__ import annotations

import asyncio

import pytest

from services.dispatch.channels.ratelimit import TokenBucket


class TestTokenBucket:
    async def test_a_burst_goes_at_once_then_the_rate_holds(self) -> None:
        bucket = TokenBucket(rate_per_s=50, burst=5)
        loop = asyncio.get_running_loop()

        started = loop.time()
        for _ in range(5):
            await bucket.acquire()
        burst_s = loop.time() - started
        for _ in range(10):
            await bucket.acquire()
        total_s = loop.time() - started

        assert burst_s < 0.05
        # Ten more tokens at 50 a second: 0.2 s, give or take the timer's resolution.
        assert 0.18 <= total_s < 0.5

    async def test_concurrent_waiters_share_the_rate(self) -> None:
        bucket = TokenBucket(rate_per_s=100, burst=1)
        loop = asyncio.get_running_loop()

        started = loop.time()
        await asyncio.gather(*(bucket.acquire() for _ in range(21)))

        assert 0.18 <= loop.time() - started < 0.5

    def test_refuses_a_rate_of_nothing(self) -> None:
        with pytest.raises(ValueError, match="positive rate"):
            TokenBucket(rate_per_s=0, burst=1)
