"""The shared token bucket, on the real database: what one take grants, what several
dispatchers taking at once are granted together, and which providers have a limit."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.config import DispatchSettings
from services.dispatch.models import ChannelKind
from services.dispatch.ratelimits.service import (
    RateLimit,
    SharedTokenBucket,
    configured_rate_limits,
)


def a_provider(rate_per_s: float, burst: int) -> RateLimit:
    return RateLimit(f"test-{uuid.uuid4().hex[:8]}", rate_per_s, burst)


class TestSharedTokenBucket:
    async def test_a_fresh_bucket_grants_its_burst_and_no_more_at_once(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        # Slow enough that no token comes back during the test.
        bucket = SharedTokenBucket(quiet_sessions, a_provider(rate_per_s=0.001, burst=5))

        assert await bucket.take(3, within_s=0) == 3
        assert await bucket.take(3, within_s=0) == 2
        assert await bucket.take(3, within_s=0) == 0

    async def test_dispatchers_taking_at_once_share_one_bucket(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        limit = a_provider(rate_per_s=0.001, burst=20)
        # Each its own view, as in separate processes; the row is the only shared state.
        buckets = [SharedTokenBucket(quiet_sessions, limit) for _ in range(4)]

        granted = await asyncio.gather(*(bucket.take(10, within_s=0) for bucket in buckets))

        assert sum(granted) == 20

    async def test_waits_for_the_refill_within_its_time(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        bucket = SharedTokenBucket(quiet_sessions, a_provider(rate_per_s=50, burst=5))

        # 5 at once, 5 more refilled while it waits: the wait is bounded by a generous backstop.
        assert await bucket.take(10, within_s=60) == 10


def test_only_providers_with_a_rate_have_a_limit() -> None:
    settings = DispatchSettings(email_rate_per_s=10, email_rate_burst=20, notify_rate_per_s=50)

    limits = configured_rate_limits(settings)

    assert limits == {
        ChannelKind.EMAIL: RateLimit("smtp", 10, 20),
        ChannelKind.SMS: RateLimit("notify", 50, settings.notify_concurrency),
    }
