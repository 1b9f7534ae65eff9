"""Provider rate limits that hold for the whole deployment, whatever the replica count.

Each provider with a configured rate (``DISPATCH_EMAIL_RATE_PER_S``, ``..._WEBPUSH_...``,
``..._FCM_...``, ``..._NOTIFY_...``) has one token bucket, a row in PostgreSQL
(``provider_rate_buckets``) that every dispatcher takes from. A delivery worker takes the
tokens for a chunk's group at once, before handing it to the channel (one short transaction per
take, not one per message); when the bucket holds fewer, it waits for the refill and takes
again, in batches of at least a fifth of a second's tokens, for at most ``send_budget_s``;
recipients it got no token for are not attempted and are due again shortly, their attempt
given back. So over any interval T the deployment hands a provider at most
``burst + rate x T`` messages, with one replica or twenty, and adding replicas needs no change
of settings. Each process's channel also keeps its own bucket of the same rate
(``services.dispatch.channels.ratelimit``), which spreads the tokens a chunk took over time
instead of sending them in one burst.

The digest job takes a run's tokens the same way. What it does not cover: single transactional
sends (verification and password-reset emails, SMS confirmation codes, letters) take only their
process's bucket.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.config import DispatchSettings
from services.dispatch.models import ChannelKind
from services.dispatch.ratelimits.repository import RateBucketRepository
from shared.db import session_scope

# The smallest refill worth a round trip to the database while waiting, in seconds of tokens.
MIN_BATCH_S = 0.2


@dataclass(frozen=True)
class RateLimit:
    provider: str
    rate_per_s: float
    burst: int


def configured_rate_limits(settings: DispatchSettings) -> dict[ChannelKind, RateLimit]:
    """Each channel's provider limit, where one is set (a rate of 0 means none). SMS shares
    Notify's."""
    limits = {
        ChannelKind.EMAIL: RateLimit("smtp", settings.email_rate_per_s, settings.email_rate_burst),
        ChannelKind.WEBPUSH: RateLimit(
            "webpush", settings.webpush_rate_per_s, settings.webpush_rate_burst
        ),
        ChannelKind.FCM: RateLimit("fcm", settings.fcm_rate_per_s, settings.fcm_concurrency),
        ChannelKind.SMS: RateLimit(
            "notify", settings.notify_rate_per_s, settings.notify_concurrency
        ),
    }
    return {channel: limit for channel, limit in limits.items() if limit.rate_per_s > 0}


class SharedTokenBucket:
    """One provider's bucket as this process sees it: every take goes to the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], limit: RateLimit) -> None:
        self._sessions = sessions
        self.limit = limit

    async def take(self, want: int, *, within_s: float) -> int:
        """Up to ``want`` tokens, waiting for the refill for at most ``within_s``; returns how
        many were granted (``want`` unless time ran out)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        rate = self.limit.rate_per_s
        granted = 0
        while True:
            async with session_scope(self._sessions) as session:
                took = await RateBucketRepository(session).take(
                    self.limit.provider,
                    want=want - granted,
                    rate_per_s=rate,
                    burst=self.limit.burst,
                )
            granted += took.granted
            if granted >= want:
                return granted
            batch = min(want - granted, self.limit.burst, max(1, math.ceil(rate * MIN_BATCH_S)))
            wait_s = max(0.0, batch - took.left) / rate
            if loop.time() + wait_s > deadline:
                return granted
            await asyncio.sleep(wait_s)


def shared_rate_limits(
    sessions: async_sessionmaker[AsyncSession], settings: DispatchSettings
) -> dict[ChannelKind, SharedTokenBucket]:
    return {
        channel: SharedTokenBucket(sessions, limit)
        for channel, limit in configured_rate_limits(settings).items()
    }
