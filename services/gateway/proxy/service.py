"""Forwarding one request to a service and bringing its answer back.

Both bodies are buffered: requests are capped at ``max_body_bytes`` before anything is sent, and
an answer is passed on only once it has arrived whole, so that a service failing half-way through
becomes a clean 502/504 problem rather than a truncated 200. (Streaming, for server-sent events
say, would need its own path.)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote

import aiohttp
import httpx
from prometheus_client import Histogram

from services.gateway.errors import (
    InvalidContentLengthError,
    InvalidPathError,
    RequestTooLargeError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from services.gateway.upstreams import Upstreams
from shared.logs import get_logger

log = get_logger(__name__)

UPSTREAM_LATENCY = Histogram(
    "tawny_gateway_upstream_request_duration_seconds",
    "Time from forwarding a request to a service until its whole answer (or failure) arrived",
    ["service", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# RFC 9110 section 7.6.1: these describe one connection, not the message, so a proxy drops them
# (plus any header the Connection header names). "proxy-connection" is a pre-standard relative.
HOP_BY_HOP_HEADERS: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

# Replaced by the gateway's own values: a caller must not be able to choose the address or
# request id a service sees. The body is already buffered, so "Expect: 100-continue" is moot.
_REPLACED_REQUEST_HEADERS: Final = frozenset(
    {
        b"host",
        b"content-length",
        b"expect",
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-prefix",
        b"x-forwarded-proto",
        b"x-request-id",
        b"x-tawny-member-id",
    }
)

# The gateway's server adds its own date, server and (via RequestContextMiddleware) request id;
# passing the service's on as well would send each twice.
_REPLACED_RESPONSE_HEADERS: Final = frozenset(
    {b"content-length", b"date", b"server", b"x-request-id"}
)

# Characters left as they are when a decoded path must be quoted again (RFC 3986 pchar and "/").
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"


@dataclass(frozen=True)
class IncomingRequest:
    """What the gateway received, already parsed, for one service."""

    method: str
    path: bytes
    """Percent-encoded path below /api/<service>, starting with "/"."""
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    client_host: str | None
    scheme: str
    host: str | None
    prefix: str
    """The public path prefix of the service, such as "/api/alerts"."""
    request_id: str | None
    member_id: str | None = None
    """The caller's member id when the edge verified their token (for the service's logs)."""


@dataclass(frozen=True)
class UpstreamReply:
    status_code: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


async def read_capped_body(
    chunks: AsyncIterable[bytes], *, declared_length: str | None, limit: int
) -> bytes:
    """The whole request body, refusing it as soon as it is known to exceed ``limit`` bytes:
    at once from Content-Length, or while reading a body sent without one."""
    if declared_length is not None:
        declared = declared_length.strip()
        if not (declared.isascii() and declared.isdigit()):
            raise InvalidContentLengthError("Content-Length must be a whole number of bytes")
        if int(declared) > limit:
            raise RequestTooLargeError(limit)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise RequestTooLargeError(limit)
    return bytes(body)


def upstream_path(
    *, raw_path: bytes | None, root_path: str, service: str, decoded_path: str
) -> bytes:
    """The path to request from the service: everything after /api/<service>, still
    percent-encoded as the caller sent it, so that an encoded "/" (%2F) stays one segment."""
    if any(segment in (".", "..") for segment in decoded_path.split("/")):
        raise InvalidPathError("paths may not contain '.' or '..' segments")
    if raw_path is not None:
        root = root_path.encode("ascii", "ignore")
        if root and raw_path.startswith(root):
            raw_path = raw_path[len(root) :]
        parts = raw_path.split(b"/", 3)
        if (
            len(parts) >= 3
            and parts[0] == b""
            and unquote(parts[1].decode("latin-1")) == "api"
            and unquote(parts[2].decode("latin-1")) == service
        ):
            return b"/" + (parts[3] if len(parts) == 4 else b"")
    # A server that gives no usable raw_path: quoting the decoded path again is the best we have.
    return b"/" + quote(decoded_path, safe=_PATH_SAFE).encode("ascii")


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


def _without(
    headers: Iterable[tuple[bytes, bytes]], dropped: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    headers = list(headers)
    hop_by_hop = HOP_BY_HOP_HEADERS | _connection_tokens(headers)
    return [
        (name, value)
        for name, value in headers
        if name.lower() not in hop_by_hop and name.lower() not in dropped
    ]


def forwarded_request_headers(incoming: IncomingRequest) -> list[tuple[bytes, bytes]]:
    # RFC 9110 section 5.5: whitespace around a field value is not part of it. Servers (uvicorn)
    # accept and drop it, but the client side of HTTP/1.1 refuses to send it, which turned
    # "Authorization: Bearer " into a 502 instead of the service's own 401.
    headers = [
        (name, value.strip(b" \t"))
        for name, value in _without(incoming.headers, _REPLACED_REQUEST_HEADERS)
    ]
    if incoming.request_id:
        headers.append((b"x-request-id", incoming.request_id.encode("latin-1")))
    # The gateway is the platform's edge, so the peer it sees is the client; behind a trusted
    # load balancer, uvicorn's --proxy-headers/--forwarded-allow-ips make that peer the real one.
    if incoming.client_host:
        headers.append((b"x-forwarded-for", incoming.client_host.encode("latin-1")))
    headers.append((b"x-forwarded-proto", incoming.scheme.encode("latin-1")))
    if incoming.host:
        headers.append((b"x-forwarded-host", incoming.host.encode("latin-1")))
    headers.append((b"x-forwarded-prefix", incoming.prefix.encode("latin-1")))
    if incoming.member_id:
        headers.append((b"x-tawny-member-id", incoming.member_id.encode("latin-1")))
    return headers


def public_location(location: bytes, *, base_url: httpx.URL, prefix: str) -> bytes:
    """A service's redirect target as the caller must see it: a URL on the service's own
    (internal) origin becomes a path under the service's public prefix, as nginx's default
    ``proxy_redirect`` does. Redirects elsewhere are left alone."""
    try:
        target = httpx.URL(location.decode("latin-1"))
    except (httpx.InvalidURL, UnicodeDecodeError):
        return location
    if target.is_absolute_url:
        if (target.scheme, target.host, target.port) != (
            base_url.scheme,
            base_url.host,
            base_url.port,
        ):
            return location
    elif not target.path.startswith("/") or location.startswith(b"//"):
        return location
    base_path = base_url.raw_path.rstrip(b"/")
    path_and_query = target.raw_path
    if base_path and not (
        path_and_query == base_path
        or path_and_query.startswith((base_path + b"/", base_path + b"?"))
    ):
        return location
    below_base = path_and_query[len(base_path) :] or b"/"
    public_prefix = prefix.encode("ascii")
    if below_base == public_prefix or below_base.startswith(public_prefix + b"/"):
        # The service already knows its public prefix (root_path); don't add it twice.
        public = below_base
    else:
        public = public_prefix + below_base
    if target.fragment:
        public += b"#" + target.fragment.encode("utf-8")
    return public


def _reply_headers(
    response: httpx.Response, body: bytes, *, method: str, base_url: httpx.URL, prefix: str
) -> list[tuple[bytes, bytes]]:
    headers = _without(response.headers.raw, _REPLACED_RESPONSE_HEADERS)
    headers = [
        (name, public_location(value, base_url=base_url, prefix=prefix))
        if name.lower() == b"location"
        else (name, value)
        for name, value in headers
    ]
    status = response.status_code
    if method == "HEAD":
        # No body, but the length is that of the GET answer and may be useful to the caller.
        declared = response.headers.get("content-length")
        if declared is not None:
            headers.append((b"content-length", declared.encode("ascii")))
    elif status >= 200 and status not in (204, 304):
        headers.append((b"content-length", str(len(body)).encode("ascii")))
    return headers


def _outcome(status_code: int) -> str:
    return f"{status_code // 100}xx"


# Safe to send twice (RFC 9110 section 9.2.2): the only requests retried on a connection that
# turned out to be dead.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def _broken_connection(error: httpx.TransportError) -> bool:
    """The connection broke before an answer came: a pooled connection the service had closed
    (after a 500, or on its keep-alive timeout) looks like this. httpx-aiohttp reports aiohttp's
    "server disconnected" as a ConnectTimeout, so the cause decides, not the class."""
    cause = error.__cause__
    if isinstance(cause, aiohttp.ClientConnectorError):
        return False  # no connection was made: the service is down, not a stale connection
    if isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return True
    return isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError)


async def _exchange(
    transport: httpx.AsyncBaseTransport, request: httpx.Request
) -> tuple[httpx.Response, bytes]:
    response = await transport.handle_async_request(request)
    try:
        # Raw bytes: the body stays exactly as encoded (gzip...) with its Content-Encoding.
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return response, body


_FAILURE_OUTCOMES: Final[dict[type[UpstreamError], str]] = {
    UpstreamError: "bad_gateway",
    UpstreamTimeoutError: "timeout",
    UpstreamUnavailableError: "unavailable",
}


def _upstream_error(service: str, method: str, error: httpx.TransportError) -> UpstreamError:
    event: str
    mapped: UpstreamError
    if isinstance(error.__cause__, aiohttp.ClientConnectorError) and not isinstance(
        error.__cause__, aiohttp.ServerTimeoutError
    ):
        # httpx-aiohttp reports a refused connection as a ConnectTimeout.
        event, mapped = "gateway.upstream.unavailable", UpstreamUnavailableError(service)
    elif _broken_connection(error):
        event, mapped = "gateway.upstream.failed", UpstreamError(service)
    elif isinstance(error, httpx.TimeoutException):
        event, mapped = "gateway.upstream.timeout", UpstreamTimeoutError(service)
    elif isinstance(error, httpx.ConnectError):
        event, mapped = "gateway.upstream.unavailable", UpstreamUnavailableError(service)
    else:
        event, mapped = "gateway.upstream.failed", UpstreamError(service)
    log.warning(event, service=service, method=method, error=type(error).__name__)
    return mapped


async def forward(upstreams: Upstreams, service: str, incoming: IncomingRequest) -> UpstreamReply:
    """Send ``incoming`` to ``service`` and return its answer; transport failures become
    ``UpstreamError``s (503 unreachable or busy, 504 too slow, 502 anything else).

    An idempotent request whose connection broke before any answer is sent once more, on a
    fresh connection: that is a pooled connection the service had just closed, not a failure of
    the request."""
    base_url = upstreams.base_url(service)
    base_path = base_url.raw_path.rstrip(b"/")
    target = base_path + incoming.path + (b"?" + incoming.query if incoming.query else b"")
    try:
        url = base_url.copy_with(raw_path=target)
    except httpx.InvalidURL as error:
        raise InvalidPathError("the request path cannot be forwarded") from error
    request = httpx.Request(
        incoming.method,
        url,
        headers=forwarded_request_headers(incoming),
        content=incoming.body,
        extensions={"timeout": upstreams.timeouts},
    )
    attempts = 2 if incoming.method in IDEMPOTENT_METHODS else 1
    with upstreams.limits.slot(service):
        started = time.perf_counter()
        outcome = "aborted"  # kept only if something other than the transport interrupts us
        try:
            for attempt in range(1, attempts + 1):
                try:
                    response, body = await _exchange(upstreams.transport, request)
                    break
                except httpx.TransportError as error:
                    if attempt < attempts and _broken_connection(error):
                        log.info(
                            "gateway.upstream.retried",
                            service=service,
                            method=incoming.method,
                            error=type(error).__name__,
                        )
                        continue
                    mapped = _upstream_error(service, incoming.method, error)
                    outcome = _FAILURE_OUTCOMES[type(mapped)]
                    raise mapped from error
            outcome = _outcome(response.status_code)
        finally:
            UPSTREAM_LATENCY.labels(service, outcome).observe(time.perf_counter() - started)
    if incoming.method == "HEAD":
        body = b""
    return UpstreamReply(
        status_code=response.status_code,
        headers=_reply_headers(
            response, body, method=incoming.method, base_url=base_url, prefix=incoming.prefix
        ),
        body=body,
    )
