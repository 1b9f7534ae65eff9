"""Public reads from cache: Cache-Control, ETag and 304 at the gateway, a short in-process
cache of anonymous public reads, and the inbox kept private."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI, Response

from services.gateway.caching import CachedReply, PublicReadCache
from tests.gateway.fakes import gateway_settings, host_of, network, running_gateway
from tests.support import tokens

FEED = "/api/alerts/feeds/wards/E05000001.json"


class FeedService:
    """A service with a public feed and a personal inbox that counts what it is asked; its feed
    may be held until the test opens the gate."""

    def __init__(self, *, gated: bool = False) -> None:
        self.calls = 0
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()
        if not gated:
            self.opened.set()
        self.app = FastAPI()

        @self.app.get("/feeds/wards/{code}.json")
        async def feed(code: str) -> dict[str, object]:
            self.calls += 1
            self.entered.set()
            await self.opened.wait()
            return {"ward": code, "alerts": []}

        @self.app.get("/inbox")
        async def inbox() -> Response:
            self.calls += 1
            return Response('{"items": []}', media_type="application/json")


def gateway_with(feeds: FeedService) -> tuple[httpx.AsyncBaseTransport, FeedService]:
    transport = httpx.ASGITransport(app=feeds.app)
    return network(alerts=transport, dispatch=transport), feeds


class TestPublicReads:
    async def test_a_herd_costs_the_service_one_request_and_gets_validators(self) -> None:
        feeds = FeedService(gated=True)
        transport, _ = gateway_with(feeds)
        async with running_gateway(transport) as client:
            herd = [asyncio.create_task(client.get(FEED)) for _ in range(20)]
            await feeds.entered.wait()
            feeds.opened.set()
            answers = await asyncio.gather(*herd)
            later = await client.get(FEED)

        assert feeds.calls == 1
        assert {answer.status_code for answer in [*answers, later]} == {200}
        etags = {answer.headers["etag"] for answer in [*answers, later]}
        assert len(etags) == 1
        assert later.headers["cache-control"] == "public, max-age=5"
        assert later.json() == {"ward": "E05000001", "alerts": []}

    async def test_revalidation_with_the_etag_is_a_304_without_a_body(self) -> None:
        transport, feeds = gateway_with(FeedService())
        async with running_gateway(transport) as client:
            first = await client.get(FEED)
            again = await client.get(FEED, headers={"If-None-Match": first.headers["etag"]})
            stale = await client.get(FEED, headers={"If-None-Match": '"something-else"'})

        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["cache-control"] == "public, max-age=5"
        assert stale.status_code == 200
        assert feeds.calls == 1

    async def test_a_signed_in_read_is_neither_served_from_nor_kept_in_the_cache(self) -> None:
        transport, feeds = gateway_with(FeedService())
        token = tokens.make_token(member_id=uuid.uuid4())
        signed_in = {"Authorization": f"Bearer {token}"}
        async with running_gateway(transport) as client:
            await client.get(FEED, headers=signed_in)
            await client.get(FEED, headers=signed_in)
            assert feeds.calls == 2
            await client.get(FEED)
            await client.get(FEED)
            assert feeds.calls == 3
            await client.get(FEED, headers={"Cookie": "session=1"})
            await client.get(FEED, headers=signed_in)

        assert feeds.calls == 5

    async def test_a_zero_lifetime_turns_the_cache_off(self) -> None:
        transport, feeds = gateway_with(FeedService())
        async with running_gateway(transport, gateway_settings(public_cache_ttl_s=0)) as client:
            await client.get(FEED)
            await client.get(FEED)

        assert feeds.calls == 2

    async def test_an_answer_that_sets_a_cookie_is_not_kept(self) -> None:
        # The echo service sets cookies on every answer.
        transport = network()
        async with running_gateway(transport) as client:
            await client.get("/api/geo/wards")
            await client.get("/api/geo/wards")

        assert len([r for r in transport.requests if r.url.host == host_of("geo")]) == 2


class TestPrivateReads:
    async def test_the_inbox_is_private_and_never_cached(self) -> None:
        transport, feeds = gateway_with(FeedService())
        async with running_gateway(transport) as client:
            first = await client.get("/api/dispatch/inbox")
            second = await client.get("/api/dispatch/inbox")

        assert first.headers["cache-control"] == "private, no-store"
        assert second.status_code == 200
        assert feeds.calls == 2


@dataclass
class Answer:
    """A fetched answer as the proxy hands it to the cache, its body read on demand."""

    body: bytes = b"{}"
    headers: list[tuple[bytes, bytes]] = field(
        default_factory=lambda: [(b"content-type", b"application/json")]
    )
    status_code: int = 200
    closed: bool = False

    async def read_whole(self, limit: int) -> bytes | None:
        return self.body if len(self.body) <= limit else None

    async def close(self) -> None:
        self.closed = True


class TestPublicReadCache:
    async def fetch(self) -> Answer:
        return Answer()

    async def test_an_answer_expires_after_its_lifetime(self) -> None:
        now = [100.0]
        cache = PublicReadCache(ttl_s=5, max_entries=10, max_body_bytes=100, clock=lambda: now[0])
        first = await cache.get_or_fetch((b"a",), self.fetch)
        now[0] += 4.9
        same = await cache.get_or_fetch((b"a",), self.fetch)
        now[0] += 0.2
        refreshed = await cache.get_or_fetch((b"a",), self.fetch)

        assert isinstance(first, CachedReply)
        assert first is same
        assert isinstance(refreshed, CachedReply) and refreshed is not first

    async def test_the_least_recently_used_answer_is_dropped_beyond_the_size(self) -> None:
        cache = PublicReadCache(ttl_s=5, max_entries=2, max_body_bytes=100)
        a = await cache.get_or_fetch((b"a",), self.fetch)
        await cache.get_or_fetch((b"b",), self.fetch)
        await cache.get_or_fetch((b"a",), self.fetch)
        await cache.get_or_fetch((b"c",), self.fetch)
        a_again = await cache.get_or_fetch((b"a",), self.fetch)
        b_again = await cache.get_or_fetch((b"b",), self.fetch)

        assert a_again is a
        # Fetched again: it had been dropped, "c" then was.
        assert isinstance(b_again, CachedReply) and b_again.body == b"{}"

    async def test_a_kept_answer_is_read_whole_and_its_connection_closed(self) -> None:
        cache = PublicReadCache(ttl_s=5, max_entries=10, max_body_bytes=100)
        fetched = Answer(b'{"wards": []}', [])

        kept = await cache.get_or_fetch((b"a",), lambda: _returning(fetched))

        assert isinstance(kept, CachedReply)
        assert fetched.closed
        assert (b"content-length", b"13") in kept.headers

    async def test_private_or_large_answers_are_handed_back_unread(self) -> None:
        cache = PublicReadCache(ttl_s=5, max_entries=10, max_body_bytes=1)
        private = Answer(b"", [(b"cache-control", b"private, no-store")])

        large = await cache.get_or_fetch((b"a",), self.fetch)
        personal = await cache.get_or_fetch((b"b",), lambda: _returning(private))

        # The caller streams them, and closes them when done.
        assert isinstance(large, Answer) and not large.closed
        assert personal is private and not private.closed


async def _returning(answer: Answer) -> Answer:
    return answer
