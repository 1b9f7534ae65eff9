"""The proxy's pure parts: paths, redirect targets, header rewriting and the body cap."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway.errors import (
    InvalidContentLengthError,
    InvalidPathError,
    RequestTooLargeError,
)
from services.gateway.proxy.service import (
    IncomingRequest,
    forwarded_request_headers,
    public_location,
    read_capped_body,
    upstream_path,
)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


class TestReadCappedBody:
    async def test_reads_the_whole_body_up_to_the_limit(self) -> None:
        body = await read_capped_body(chunks(b"ab", b"cd"), declared_length="4", limit=4)
        assert body == b"abcd"

    async def test_refuses_a_declared_length_over_the_limit_without_reading(self) -> None:
        async def must_not_be_read() -> AsyncIterator[bytes]:
            raise AssertionError("the body was read")
            yield b""  # pragma: no cover

        with pytest.raises(RequestTooLargeError):
            await read_capped_body(must_not_be_read(), declared_length="5", limit=4)

    async def test_refuses_an_undeclared_body_once_it_passes_the_limit(self) -> None:
        with pytest.raises(RequestTooLargeError):
            await read_capped_body(chunks(b"abc", b"de"), declared_length=None, limit=4)

    async def test_refuses_a_body_longer_than_it_declared(self) -> None:
        with pytest.raises(RequestTooLargeError):
            await read_capped_body(chunks(b"abcde"), declared_length="1", limit=4)

    @pytest.mark.parametrize("declared", ["-1", "1e3", "abc", "", "٣"])
    async def test_refuses_a_content_length_that_is_not_a_number(self, declared: str) -> None:
        with pytest.raises(InvalidContentLengthError) as raised:
            await read_capped_body(chunks(b""), declared_length=declared, limit=4)
        assert raised.value.status_code == 400


class TestUpstreamPath:
    def test_keeps_the_callers_percent_encoding(self) -> None:
        path = upstream_path(
            raw_path=b"/api/geo/places/a%2Fb%20c",
            root_path="",
            service="geo",
            decoded_path="places/a/b c",
        )
        assert path == b"/places/a%2Fb%20c"

    def test_strips_the_gateways_own_root_path(self) -> None:
        path = upstream_path(
            raw_path=b"/edge/api/geo/wards", root_path="/edge", service="geo", decoded_path="wards"
        )
        assert path == b"/wards"

    def test_quotes_the_decoded_path_when_the_raw_one_does_not_fit(self) -> None:
        path = upstream_path(
            raw_path=b"/api%2Fgeo/a b", root_path="", service="geo", decoded_path="a b"
        )
        assert path == b"/a%20b"
        assert upstream_path(raw_path=None, root_path="", service="geo", decoded_path="x") == b"/x"

    @pytest.mark.parametrize("decoded", ["..", "a/../b", "./a", "a/."])
    def test_refuses_dot_segments(self, decoded: str) -> None:
        with pytest.raises(InvalidPathError):
            upstream_path(raw_path=None, root_path="", service="geo", decoded_path=decoded)


class TestPublicLocation:
    base = httpx.URL("http://alerts.internal:8002")

    @pytest.mark.parametrize(
        ("location", "expected"),
        [
            (b"http://alerts.internal:8002/alerts/", b"/api/alerts/alerts/"),
            (b"http://alerts.internal:8002/a?b=1#c", b"/api/alerts/a?b=1#c"),
            (b"/alerts/1", b"/api/alerts/alerts/1"),
            (b"/api/alerts/alerts/1", b"/api/alerts/alerts/1"),
            (b"https://tawny.london/help", b"https://tawny.london/help"),
            (b"http://alerts.internal:9999/x", b"http://alerts.internal:9999/x"),
            (b"//elsewhere.example/x", b"//elsewhere.example/x"),
            (b"relative/path", b"relative/path"),
        ],
    )
    def test_maps_the_services_origin_onto_its_public_prefix(
        self, location: bytes, expected: bytes
    ) -> None:
        assert public_location(location, base_url=self.base, prefix="/api/alerts") == expected

    def test_respects_a_path_in_the_base_url(self) -> None:
        base = httpx.URL("http://internal/alerts-svc")
        assert (
            public_location(b"/alerts-svc/x", base_url=base, prefix="/api/alerts")
            == b"/api/alerts/x"
        )
        assert public_location(b"/other/x", base_url=base, prefix="/api/alerts") == b"/other/x"


class TestForwardedRequestHeaders:
    def incoming(self, headers: list[tuple[bytes, bytes]]) -> IncomingRequest:
        return IncomingRequest(
            method="GET",
            path=b"/",
            query=b"",
            headers=headers,
            body=b"",
            client_host="203.0.113.7",
            scheme="https",
            host="tawny.london",
            prefix="/api/geo",
            request_id="rid-1",
        )

    def test_replaces_what_the_caller_must_not_choose(self) -> None:
        headers = forwarded_request_headers(
            self.incoming(
                [
                    (b"Host", b"tawny.london"),
                    (b"X-Request-ID", b"caller-chosen"),
                    (b"Forwarded", b"for=198.51.100.1"),
                    (b"X-Forwarded-For", b"198.51.100.1"),
                    (b"Content-Length", b"999"),
                    (b"Accept", b"application/json"),
                ]
            )
        )
        assert headers == [
            (b"Accept", b"application/json"),
            (b"x-request-id", b"rid-1"),
            (b"x-forwarded-for", b"203.0.113.7"),
            (b"x-forwarded-proto", b"https"),
            (b"x-forwarded-host", b"tawny.london"),
            (b"x-forwarded-prefix", b"/api/geo"),
        ]

    def test_drops_headers_named_by_connection(self) -> None:
        headers = forwarded_request_headers(
            self.incoming([(b"Connection", b"close, X-Hop"), (b"X-Hop", b"1"), (b"X-Kept", b"2")])
        )
        names = [name.lower() for name, _ in headers]
        assert b"x-hop" not in names
        assert b"connection" not in names
        assert b"x-kept" in names
