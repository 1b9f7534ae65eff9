"""The gateway's one outbound HTTP client and the services it reaches, built in the lifespan.

The client is httpx's interface over aiohttp's connection pool (``httpx-aiohttp``): httpx's own
pool scans every pooled connection for expiry on each request, which cost about 1.7 ms of CPU per
request under concurrency on our machines against about 0.3 ms this way
(``../shared/research/calibration.md``). Tests still inject any httpx transport.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated

import aiohttp
import httpx
from fastapi import Depends, Request
from httpx_aiohttp import AiohttpTransport

from services.gateway.caching import PublicReadCache
from services.gateway.config import GatewaySettings
from services.gateway.errors import UnknownServiceError, UpstreamBusyError
from shared.overload import REFUSED_REQUESTS


@dataclass
class InFlightLimits:
    """How many requests each service has in progress through this process, bounded: a service
    at its bound gets no more until one finishes, and the caller an immediate 503."""

    per_service: int
    retry_after_s: int
    in_flight: Counter[str] = field(default_factory=Counter)

    def acquire(self, service: str) -> None:
        """Take one of ``service``'s slots, or refuse with ``UpstreamBusyError``; the slot is
        held until ``release``, which for a streamed answer is after its last byte."""
        if self.in_flight[service] >= self.per_service:
            REFUSED_REQUESTS.labels(service).inc()
            raise UpstreamBusyError(service, self.retry_after_s)
        self.in_flight[service] += 1

    def release(self, service: str) -> None:
        self.in_flight[service] -= 1


@dataclass(frozen=True)
class Upstreams:
    """The services behind /api/<name>/ and the pooled client every forwarded request shares."""

    client: httpx.AsyncClient
    """For the gateway's own calls (readiness, JWKS)."""
    transport: httpx.AsyncBaseTransport
    """The client's transport, which forwarded requests go to directly: the client's own steps
    (merging headers and cookies, auth and redirect handling) are not a proxy's to take, and
    cost about half of the gateway's CPU per forwarded request."""
    timeouts: Mapping[str, float | None]
    base_urls: Mapping[str, httpx.URL]
    max_body_bytes: int
    readiness_timeout_s: float
    limits: InFlightLimits
    public_cache: PublicReadCache

    def base_url(self, service: str) -> httpx.URL:
        try:
            return self.base_urls[service]
        except KeyError:
            raise UnknownServiceError(service, sorted(self.base_urls)) from None


def aiohttp_transport(settings: GatewaySettings) -> AiohttpTransport:
    """aiohttp's pool, sized so that it never makes a request wait: each service may have as
    many connections as it may have requests in flight, and every one is kept for reuse."""
    connector = aiohttp.TCPConnector(
        limit=0,
        limit_per_host=settings.max_in_flight_per_service,
        keepalive_timeout=30,
        ttl_dns_cache=60,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        # A proxy sends the caller's headers, not aiohttp's own defaults.
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        auto_decompress=False,
        # Service-to-service calls must never go through an HTTP(S)_PROXY from the environment.
        trust_env=False,
    )
    return AiohttpTransport(client=session)


def build_client(
    settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        transport=transport or aiohttp_transport(settings),
        timeout=httpx.Timeout(settings.upstream_timeout_s, connect=settings.connect_timeout_s),
        # Redirects belong to the caller, not to the gateway.
        follow_redirects=False,
        # Service-to-service calls must never go through an HTTP(S)_PROXY from the environment.
        trust_env=False,
    )
    # A proxy sends the caller's headers, not httpx's defaults: its Accept-Encoding would invite
    # a compressed answer that a caller which never asked for one could not read.
    client.headers.clear()
    return client


@contextlib.asynccontextmanager
async def open_upstreams(
    settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[Upstreams]:
    transport = transport or aiohttp_transport(settings)
    async with build_client(settings, transport) as client:
        yield Upstreams(
            client=client,
            transport=transport,
            timeouts=client.timeout.as_dict(),
            base_urls={name: httpx.URL(url) for name, url in settings.upstream_urls().items()},
            max_body_bytes=settings.max_body_bytes,
            readiness_timeout_s=settings.readiness_timeout_s,
            limits=InFlightLimits(
                settings.max_in_flight_per_service, settings.overload_retry_after_s
            ),
            public_cache=PublicReadCache(
                ttl_s=settings.public_cache_ttl_s,
                max_entries=settings.public_cache_max_entries,
                max_body_bytes=settings.public_cache_max_body_bytes,
            ),
        )


def upstreams_of(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


UpstreamsDep = Annotated[Upstreams, Depends(upstreams_of)]
