"""Forwarding one request to a service and bringing its answer back.

Both bodies are streamed, so the gateway holds a few chunks of a request or answer in memory,
not the whole of it, and an upload or a large document starts moving before it has all arrived:

- A request body is capped at ``max_body_bytes`` as it passes (at once from its Content-Length,
  or while it is read). A small declared body (``BUFFERED_BODY_BYTES``, every JSON call of the
  API) is read whole first, because only a body held in memory can be sent again when a pooled
  connection turns out to be dead.
- An answer is passed on chunk by chunk while the service writes it. A service failing half-way
  through an answer therefore aborts the caller's connection (a truncated body the caller can
  tell from a whole one: its Content-Length or chunked framing is unfinished), as nginx does,
  rather than becoming a 502. The public-read cache reads the answers it may keep whole
  (``PublicReadCache.max_body_bytes``) and streams larger ones.

The in-flight slot of the service is held until the answer's last byte is passed on.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
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
from services.gateway.upstreams import InFlightLimits, Upstreams
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
# request id a service sees. The gateway has already accepted the body, so "Expect:
# 100-continue" is moot; the body's framing (Content-Length or chunked) is set by the client side.
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
# passing the service's on as well would send each twice. The service's Content-Length is passed
# on: the streamed answer is the same bytes.
_REPLACED_RESPONSE_HEADERS: Final = frozenset({b"date", b"server", b"x-request-id"})

# A declared request body up to this size is read whole before it is forwarded, so that it can be
# sent again on a fresh connection (see ``forward``); larger ones, and bodies sent chunked, stream.
BUFFERED_BODY_BYTES: Final = 64 * 1024

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
    body: bytes | CappedBody
    """The whole body, or the caller's body streamed through its cap."""
    client_host: str | None
    scheme: str
    host: str | None
    prefix: str
    """The public path prefix of the service, such as "/api/alerts"."""
    request_id: str | None
    member_id: str | None = None
    """The caller's member id when the edge verified their token (for the service's logs)."""


def declared_body_length(declared_length: str | None, *, limit: int) -> int | None:
    """The Content-Length a caller declared, refused at once when it is not a number or exceeds
    ``limit``; None when the body is sent without one (chunked)."""
    if declared_length is None:
        return None
    declared = declared_length.strip()
    if not (declared.isascii() and declared.isdigit()):
        raise InvalidContentLengthError("Content-Length must be a whole number of bytes")
    if int(declared) > limit:
        raise RequestTooLargeError(limit)
    return int(declared)


async def read_capped_body(
    chunks: AsyncIterable[bytes], *, declared_length: str | None, limit: int
) -> bytes:
    """The whole request body, refusing it as soon as it is known to exceed ``limit`` bytes:
    at once from Content-Length, or while reading a body sent without one."""
    declared_body_length(declared_length, limit=limit)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise RequestTooLargeError(limit)
    return bytes(body)


@dataclass
class CappedBody:
    """A caller's request body passed on chunk by chunk, stopped once it passes ``limit`` bytes.

    The client side of the proxy reads it while sending and reports a failing body as a broken
    connection, so what went wrong is kept here (``refused``) for ``forward`` to raise instead."""

    chunks: AsyncIterable[bytes]
    limit: int
    sent_bytes: int = 0
    refused: Exception | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.chunks:
                self.sent_bytes += len(chunk)
                if self.sent_bytes > self.limit:
                    raise RequestTooLargeError(self.limit)
                if chunk:
                    yield chunk
        except Exception as error:
            # The caller's fault (too large, or gone: ClientDisconnect), not the service's.
            self.refused = error
            raise


@dataclass
class UpstreamReply:
    """A service's answer whose body is still arriving. ``close`` must be called once it is done
    with (``StreamedReply`` does), which frees the connection and the service's in-flight slot."""

    service: str
    status_code: int
    headers: list[tuple[bytes, bytes]]
    response: httpx.Response
    limits: InFlightLimits
    started: float
    buffered: list[bytes] = field(default_factory=list)
    complete: bool = False
    """The whole body is in ``buffered`` (HEAD answers are complete with none)."""
    _closed: bool = False

    @property
    def declared_length(self) -> int | None:
        """The service's Content-Length, when it sent one (and the answer has a body)."""
        if self.complete and not self.buffered:
            return 0
        value = _header(self.headers, b"content-length")
        return int(value) if value is not None and value.strip().isdigit() else None

    async def read_whole(self, limit: int) -> bytes | None:
        """The whole body when it is at most ``limit`` bytes; otherwise None, and what was read
        stays in ``buffered`` to be streamed before the rest."""
        size = sum(map(len, self.buffered))
        while not self.complete:
            chunk = await anext(self._source, None)
            if chunk is None:
                self.complete = True
                break
            self.buffered.append(chunk)
            size += len(chunk)
            if size > limit:
                return None
        return b"".join(self.buffered)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, from its first byte (those already read included)."""
        while self.buffered:
            yield self.buffered.pop(0)
        if not self.complete:
            async for chunk in self._source:
                yield chunk
            self.complete = True

    @functools.cached_property
    def _source(self) -> AsyncIterator[bytes]:
        """The body as it arrives; one iterator, so reading may stop and resume."""
        return self._raw()

    async def _raw(self) -> AsyncIterator[bytes]:
        try:
            # Raw bytes: the body stays exactly as encoded (gzip...) with its Content-Encoding.
            async for chunk in self.response.aiter_raw():
                yield chunk
        except httpx.TransportError as error:
            log.warning(
                "gateway.upstream.body_failed", service=self.service, error=type(error).__name__
            )
            await self.close(outcome="body_failed")
            raise UpstreamError(self.service) from error

    async def close(self, *, outcome: str | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.response.aclose()
        finally:
            self.limits.release(self.service)
            UPSTREAM_LATENCY.labels(self.service, outcome or _outcome(self.status_code)).observe(
                time.perf_counter() - self.started
            )


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
    response: httpx.Response, *, base_url: httpx.URL, prefix: str
) -> list[tuple[bytes, bytes]]:
    headers = _without(response.headers.raw, _REPLACED_RESPONSE_HEADERS)
    return [
        (name, public_location(value, base_url=base_url, prefix=prefix))
        if name.lower() == b"location"
        else (name, value)
        for name, value in headers
    ]


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
    """Send ``incoming`` to ``service`` and return its answer once its head has arrived, the body
    still to be read; transport failures become ``UpstreamError``s (503 unreachable or busy, 504
    too slow, 502 anything else).

    An idempotent request whose connection broke before any answer is sent once more, on a
    fresh connection: that is a pooled connection the service had just closed, not a failure of
    the request. A streamed body has gone with the first attempt, so it is never sent twice."""
    base_url = upstreams.base_url(service)
    base_path = base_url.raw_path.rstrip(b"/")
    target = base_path + incoming.path + (b"?" + incoming.query if incoming.query else b"")
    try:
        url = base_url.copy_with(raw_path=target)
    except httpx.InvalidURL as error:
        raise InvalidPathError("the request path cannot be forwarded") from error
    headers = forwarded_request_headers(incoming)
    streamed = isinstance(incoming.body, CappedBody)
    if streamed:
        declared = _header(incoming.headers, b"content-length")
        if declared is not None:
            headers.append((b"content-length", declared.strip()))
    request = httpx.Request(
        incoming.method,
        url,
        headers=headers,
        content=incoming.body,
        extensions={"timeout": upstreams.timeouts},
    )
    attempts = 2 if incoming.method in IDEMPOTENT_METHODS and not streamed else 1
    limits = upstreams.limits
    limits.acquire(service)
    started = time.perf_counter()
    try:
        for attempt in range(1, attempts + 1):
            try:
                response = await upstreams.transport.handle_async_request(request)
                break
            except httpx.TransportError as error:
                if isinstance(incoming.body, CappedBody) and incoming.body.refused is not None:
                    raise incoming.body.refused from error
                if attempt < attempts and _broken_connection(error):
                    log.info(
                        "gateway.upstream.retried",
                        service=service,
                        method=incoming.method,
                        error=type(error).__name__,
                    )
                    continue
                mapped = _upstream_error(service, incoming.method, error)
                raise mapped from error
    except BaseException as error:
        limits.release(service)
        # A body the caller sent too much of, or left half-way, and cancellation: "aborted".
        outcome = "aborted"
        if isinstance(error, UpstreamError):
            outcome = _FAILURE_OUTCOMES.get(type(error), "bad_gateway")
        UPSTREAM_LATENCY.labels(service, outcome).observe(time.perf_counter() - started)
        raise
    reply = UpstreamReply(
        service=service,
        status_code=response.status_code,
        headers=_reply_headers(response, base_url=base_url, prefix=incoming.prefix),
        response=response,
        limits=limits,
        started=started,
    )
    if incoming.method == "HEAD":
        # No body, but the length is that of the GET answer and may be useful to the caller.
        reply.complete = True
        await reply.close()
    return reply


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
