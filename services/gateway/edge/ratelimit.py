"""Token buckets, one per client address and one per account, kept in this gateway process.

Each replica keeps its own buckets, so with N replicas behind a load balancer a client gets up to
N times the configured rate; that is acceptable for abuse protection at the edge (a shared store
such as Redis would be the next step if exact limits across replicas were needed).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class TokenBucketLimiter:
    """``rate_per_minute`` requests a minute on average, bursts of up to ``burst``.

    At most ``max_keys`` buckets are kept (least recently used dropped first), so a flood of
    spoofed keys cannot exhaust memory; a dropped bucket simply starts full again.
    """

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate_per_s = rate_per_minute / 60.0
        self._burst = float(burst)
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, key: str) -> int | None:
        """Take one token for ``key``: ``None`` when allowed, else whole seconds to wait."""
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(self._burst, now)
        else:
            elapsed = now - bucket.updated_at
            bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate_per_s)
            bucket.updated_at = now
        self._buckets[key] = bucket
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self._rate_per_s))
