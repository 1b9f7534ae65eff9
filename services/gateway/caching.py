"""HTTP caching at the gateway: validators (ETag, If-None-Match) and a short in-process cache of
anonymous public reads, so a crowd opening the same alert or ward feed costs the services one
request per few seconds rather than one per resident.

What may be cached is decided by the route, not guessed: ``PUBLIC_READS`` lists the services'
public documents (feeds, CAP messages, their images, boundaries), and only a request that carries
no credentials (no Authorization, no Cookie) is ever answered from or stored in the cache. The
inbox (``PRIVATE_READS``) is always ``private, no-store``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar

from prometheus_client import Counter

CACHE_LOOKUPS = Counter(
    "tawny_gateway_public_cache_lookups_total",
    "Anonymous public reads looked up in the gateway's cache",
    ["result"],
)

# (service, path below /api/<service>) of documents that are the same for every anonymous reader.
PUBLIC_READS: Final = (
    ("alerts", re.compile(r"/feeds/(wards|boroughs)/[^/]+\.(json|atom)")),
    ("alerts", re.compile(r"/alerts/[^/]+/cap")),
    ("alerts", re.compile(r"/alerts/[^/]+/images(/[0-9]+)?")),
    # The public crime-alert dashboard and its open data (an officer's token is never cached).
    ("alerts", re.compile(r"/dashboard/figures")),
    ("alerts", re.compile(r"/dashboard/open-data(/[0-9]{4}-[0-9]{2}\.(csv|json))?")),
    ("geo", re.compile(r"/wards(/[^/]+)?")),
    ("geo", re.compile(r"/boroughs")),
    ("geo", re.compile(r"/map/[^/]+\.geojson")),
    # The dashboard's members-watching counts (London's boroughs, a borough's wards).
    ("geo", re.compile(r"/dashboard/watchers(/E09[0-9]{6})?")),
)
PRIVATE_READS: Final = (("dispatch", re.compile(r"/inbox(/.*)?")),)
PRIVATE: Final = b"private, no-store"

# Request headers that make an answer different for the same URL: part of the cache key.
_KEY_HEADERS: Final = (b"accept", b"accept-language", b"accept-encoding")
_CREDENTIAL_HEADERS: Final = frozenset({b"authorization", b"cookie"})
# The caller's validators are answered by the gateway; the service is asked for the whole answer.
CONDITIONAL_HEADERS: Final = frozenset({b"if-none-match", b"if-modified-since"})


def _matches(rules: tuple[tuple[str, re.Pattern[str]], ...], service: str, path: str) -> bool:
    return any(name == service and pattern.fullmatch(path) for name, pattern in rules)


def is_public_read(service: str, path: str) -> bool:
    return _matches(PUBLIC_READS, service, path)


def is_private_read(service: str, path: str) -> bool:
    return _matches(PRIVATE_READS, service, path)


def anonymous(headers: list[tuple[bytes, bytes]]) -> bool:
    return not any(name.lower() in _CREDENTIAL_HEADERS for name, _ in headers)


def strong_etag(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 section 13.1.2: weak comparison, a list of tags or "*"."""
    if if_none_match.strip() == b"*":
        return True
    bare = etag.removeprefix(b"W/")
    return any(tag.strip().removeprefix(b"W/") == bare for tag in if_none_match.split(b","))


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class Fetched(Protocol):
    """A service's answer as the proxy fetched it, its body possibly still arriving."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> list[tuple[bytes, bytes]]: ...

    async def read_whole(self, limit: int) -> bytes | None: ...

    async def close(self) -> None: ...


FetchedT = TypeVar("FetchedT", bound=Fetched)


@dataclass(frozen=True)
class CachedReply:
    status_code: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes
    expires_at: float


def cache_key(
    service: str, path: bytes, query: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[bytes, ...]:
    found = {name.lower(): value for name, value in headers if name.lower() in _KEY_HEADERS}
    return (service.encode(), path, query, *(found.get(name, b"") for name in _KEY_HEADERS))


class PublicReadCache:
    """Answers kept for ``ttl_s`` seconds, at most ``max_entries`` of them (least recently used
    dropped first). Concurrent misses for one key wait for the first: a herd arriving before the
    first answer still costs the service one request."""

    def __init__(
        self,
        *,
        ttl_s: float,
        max_entries: int,
        max_body_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self._entries: OrderedDict[tuple[bytes, ...], CachedReply] = OrderedDict()
        self._pending: dict[tuple[bytes, ...], asyncio.Future[CachedReply | None]] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def _fresh(self, key: tuple[bytes, ...]) -> CachedReply | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    async def get_or_fetch(
        self, key: tuple[bytes, ...], fetch: Callable[[], Awaitable[FetchedT]]
    ) -> CachedReply | FetchedT:
        """The answer for ``key``: from the cache, from a fetch already under way, or fetched
        now. A fetched answer that may be kept is read whole, stored and returned as its entry;
        one that may not (an error, private, too large) is returned as fetched, its body still
        to be streamed by the caller."""
        entry = self._fresh(key)
        if entry is not None:
            CACHE_LOOKUPS.labels("hit").inc()
            return entry
        pending = self._pending.get(key)
        if pending is not None:
            CACHE_LOOKUPS.labels("joined").inc()
            shared = await asyncio.shield(pending)
            if shared is not None:
                return shared
        CACHE_LOOKUPS.labels("miss").inc()
        future: asyncio.Future[CachedReply | None] = asyncio.get_running_loop().create_future()
        leader = pending is None
        if leader:
            self._pending[key] = future
        stored = None
        try:
            fetched = await fetch()
            stored = await self._store(key, fetched)
        finally:
            if leader:
                del self._pending[key]
                future.set_result(stored)
        return fetched if stored is None else stored

    async def _store(self, key: tuple[bytes, ...], fetched: Fetched) -> CachedReply | None:
        headers = fetched.headers
        cache_control = (header(headers, b"cache-control") or b"").lower()
        if (
            fetched.status_code != 200
            or b"private" in cache_control
            or b"no-store" in cache_control
            or header(headers, b"set-cookie") is not None
            or header(headers, b"vary") is not None
        ):
            return None
        try:
            body = await fetched.read_whole(self.max_body_bytes)
        except BaseException:
            await fetched.close()
            raise
        if body is None:
            return None  # too large to keep: the caller streams it
        await fetched.close()
        headers = list(headers)
        if not cache_control:
            headers.append((b"cache-control", b"public, max-age=%d" % max(1, int(self.ttl_s))))
        if header(headers, b"content-length") is None:
            headers.append((b"content-length", b"%d" % len(body)))
        etag = header(headers, b"etag")
        if etag is None:
            etag = strong_etag(body)
            headers.append((b"etag", etag))
        entry = CachedReply(fetched.status_code, headers, body, etag, self._clock() + self.ttl_s)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return entry


_NOT_MODIFIED_HEADERS: Final = frozenset({b"cache-control", b"etag", b"expires", b"vary"})


def not_modified_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """What a 304 repeats of the full answer (RFC 9110 section 15.4.5)."""
    return [(name, value) for name, value in headers if name.lower() in _NOT_MODIFIED_HEADERS]
