"""An open-loop load generator: requests start at a fixed rate whatever happens to the earlier
ones (a closed loop would slow down with the server and hide its queueing), each with its own
timeout. aiohttp, because the generator shares the machine and must cost little per request."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp


@dataclass
class LoadResult:
    rate: float
    duration_s: float
    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    served_ms: list[float] = field(default_factory=list)
    """Latency of each 2xx/3xx answer."""
    refused_ms: list[float] = field(default_factory=list)
    """Latency of each 503 (a refusal must be fast)."""
    refused_with_retry_after: int = 0

    @staticmethod
    def _percentile(values: list[float], fraction: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)

    def summary(self) -> dict[str, object]:
        served = len(self.served_ms)
        return {
            "rate": self.rate,
            "duration_s": self.duration_s,
            "sent": self.sent,
            "served": served,
            "served_per_s": round(served / self.duration_s, 1),
            "error_fraction": round(1 - served / self.sent, 4) if self.sent else None,
            "statuses": dict(self.statuses),
            "p50_ms": self._percentile(self.served_ms, 0.50),
            "p99_ms": self._percentile(self.served_ms, 0.99),
            "refused": len(self.refused_ms),
            "refused_with_retry_after": self.refused_with_retry_after,
            "refused_p99_ms": self._percentile(self.refused_ms, 0.99),
        }


@dataclass(frozen=True)
class Target:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json_body: object | None = None


async def open_loop(
    session: aiohttp.ClientSession,
    target: Target,
    *,
    rate: float,
    duration_s: float,
    timeout_s: float = 5.0,
) -> LoadResult:
    result = LoadResult(rate=rate, duration_s=duration_s)
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def one() -> None:
        started = time.perf_counter()
        try:
            async with session.request(
                target.method,
                target.url,
                headers=target.headers,
                json=target.json_body,
                timeout=timeout,
            ) as response:
                await response.read()
                status = response.status
                retry_after = "retry-after" in response.headers
        except TimeoutError:
            result.statuses["timeout"] += 1
            return
        except aiohttp.ClientError as error:
            result.statuses[type(error).__name__] += 1
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        result.statuses[str(status)] += 1
        if status < 400:
            result.served_ms.append(elapsed_ms)
        elif status == 503:
            result.refused_ms.append(elapsed_ms)
            result.refused_with_retry_after += retry_after

    tasks: list[asyncio.Task[None]] = []
    count = int(rate * duration_s)
    start = time.perf_counter()
    for index in range(count):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
        result.sent += 1
    await asyncio.gather(*tasks)
    return result


def client_session(max_connections: int = 2_000) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections, limit_per_host=max_connections)
    )
