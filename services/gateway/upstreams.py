"""The gateway's one outbound HTTP client and the services it reaches, built in the lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, Request

from services.gateway.config import GatewaySettings
from services.gateway.errors import UnknownServiceError


@dataclass(frozen=True)
class Upstreams:
    """The services behind /api/<name>/ and the pooled client every forwarded request shares."""

    client: httpx.AsyncClient
    base_urls: Mapping[str, httpx.URL]
    max_body_bytes: int
    readiness_timeout_s: float

    def base_url(self, service: str) -> httpx.URL:
        try:
            return self.base_urls[service]
        except KeyError:
            raise UnknownServiceError(service, sorted(self.base_urls)) from None


def build_client(
    settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        # httpx ignores `limits` when a transport is given (tests inject one).
        transport=transport,
        limits=httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_keepalive_connections,
        ),
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
    async with build_client(settings, transport) as client:
        yield Upstreams(
            client=client,
            base_urls={name: httpx.URL(url) for name, url in settings.upstream_urls().items()},
            max_body_bytes=settings.max_body_bytes,
            readiness_timeout_s=settings.readiness_timeout_s,
        )


def upstreams_of(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


UpstreamsDep = Annotated[Upstreams, Depends(upstreams_of)]
