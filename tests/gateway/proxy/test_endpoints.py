"""/api/{service}/{path}: forwarding through the gateway to fake services."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import uuid
from collections.abc import AsyncIterator

import httpx

from deploy.infra import free_port
from shared.errors import PROBLEM_JSON, PROBLEM_TYPE_BASE
from tests.gateway.fakes import (
    failing,
    gateway_settings,
    header_values,
    host_of,
    network,
    running_gateway,
    seen_by_upstream,
)
from tests.support import tokens


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, object] = response.json()
    assert problem["type"] == PROBLEM_TYPE_BASE + slug
    assert problem["status"] == status
    return problem


class TestForwarding:
    async def test_get_is_forwarded_with_path_query_and_request_context(self) -> None:
        member_id = uuid.uuid4()
        token = tokens.make_token(member_id=member_id)
        async with running_gateway(network()) as client:
            response = await client.get(
                "/api/alerts/alerts/123",
                params={"ward": "E05000001", "page": "2"},
                headers={
                    "X-Request-ID": "req-abc-123",
                    "Authorization": f"Bearer {token}",
                    # A caller must not be able to choose what the service believes:
                    "X-Forwarded-For": "198.51.100.66",
                    "X-Forwarded-Prefix": "/admin",
                },
            )

        assert response.status_code == 200
        seen = seen_by_upstream(response)
        assert seen["service"] == "alerts"
        assert seen["method"] == "GET"
        assert seen["path"] == "/alerts/123"
        assert seen["query"] == "ward=E05000001&page=2"
        assert header_values(seen, "host") == [f"{host_of('alerts')}:8002"]
        assert header_values(seen, "authorization") == [f"Bearer {token}"]
        assert header_values(seen, "x-tawny-member-id") == [str(member_id)]
        assert header_values(seen, "x-request-id") == ["req-abc-123"]
        assert header_values(seen, "x-forwarded-for") == ["203.0.113.7"]
        assert header_values(seen, "x-forwarded-proto") == ["http"]
        assert header_values(seen, "x-forwarded-host") == ["gateway.test"]
        assert header_values(seen, "x-forwarded-prefix") == ["/api/alerts"]
        # The service's answer comes back whole, repeated headers included.
        assert response.headers["x-upstream"] == "alerts"
        assert response.headers.get_list("set-cookie") == [
            "a=1; Path=/; HttpOnly",
            "b=2; Path=/; HttpOnly",
        ]
        assert response.headers.get_list("x-request-id") == ["req-abc-123"]
        assert response.headers["content-length"] == str(len(response.content))

    async def test_post_is_forwarded_with_body_and_query(self) -> None:
        body = json.dumps({"email": "sam@example.org", "password": "correct horse battery"})
        async with running_gateway(network()) as client:
            response = await client.post(
                "/api/identity/members",
                params={"invite": "x y"},
                content=body.encode(),
                headers={"Content-Type": "application/json"},
            )

        assert response.status_code == 201
        seen = seen_by_upstream(response)
        assert seen["service"] == "identity"
        assert seen["method"] == "POST"
        assert seen["path"] == "/members"
        assert seen["query"] == "invite=x+y"
        assert isinstance(seen["body_b64"], str)
        assert base64.b64decode(seen["body_b64"]) == body.encode()
        assert header_values(seen, "content-type") == ["application/json"]
        assert header_values(seen, "content-length") == [str(len(body))]
        request_ids = header_values(seen, "x-request-id")
        assert len(request_ids) == 1
        assert response.headers["x-request-id"] == request_ids[0]

    async def test_every_service_is_reachable_under_its_name(self) -> None:
        async with running_gateway(network()) as client:
            for service in ("identity", "alerts", "geo", "dispatch"):
                response = await client.delete(f"/api/{service}/things/1")
                assert response.status_code == 200
                assert seen_by_upstream(response)["service"] == service

    async def test_hop_by_hop_headers_go_neither_way(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get(
                "/api/geo/wards",
                headers={
                    "Connection": "keep-alive, X-Client-Hop",
                    "X-Client-Hop": "private",
                    "Keep-Alive": "timeout=5",
                    "TE": "trailers",
                    "Proxy-Authorization": "Basic c2VjcmV0",
                    "Upgrade": "websocket",
                    "X-End-To-End": "kept",
                },
            )

        seen = seen_by_upstream(response)
        for name in ("connection", "x-client-hop", "keep-alive", "te", "upgrade"):
            assert header_values(seen, name) == [], name
        assert header_values(seen, "proxy-authorization") == []
        assert header_values(seen, "x-end-to-end") == ["kept"]
        for name in ("connection", "x-private-hop", "keep-alive"):
            assert name not in response.headers, name

    async def test_the_gateway_adds_no_default_headers_of_its_own(self) -> None:
        async with running_gateway(network()) as client:
            client.headers.clear()
            response = await client.get("/api/geo/wards")

        seen = seen_by_upstream(response)
        assert header_values(seen, "user-agent") == []
        # httpx's default Accept-Encoding would invite compression the caller never asked for.
        assert header_values(seen, "accept-encoding") == []

    async def test_a_compressed_answer_is_passed_on_as_it_came(self) -> None:
        document = json.dumps({"wards": ["E05000001"] * 50}).encode()
        compressed = gzip.compress(document)

        def compressing_service(request: httpx.Request) -> httpx.Response:
            # stream=, not content=: httpx would decode a content= body at once, unlike the network.
            return httpx.Response(
                200,
                stream=httpx.ByteStream(compressed),
                headers={"content-type": "application/json", "content-encoding": "gzip"},
            )

        async with running_gateway(network(geo=httpx.MockTransport(compressing_service))) as client:
            response = await client.get("/api/geo/wards", headers={"Accept-Encoding": "gzip"})

        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["content-length"] == str(len(compressed))
        assert response.content == document  # httpx decoded what the gateway passed on

    async def test_an_encoded_slash_stays_inside_its_segment(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get("/api/geo/places/Elephant%2FCastle/wards")

        seen = seen_by_upstream(response)
        assert seen["raw_path"] == "/places/Elephant%2FCastle/wards"

    async def test_the_service_root_is_forwarded(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get("/api/dispatch/")

        assert seen_by_upstream(response)["path"] == "/"

    async def test_a_redirect_to_the_service_itself_points_through_the_gateway(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get("/api/alerts/moved")

        assert response.status_code == 307
        assert response.headers["location"] == "/api/alerts/new?x=1"

    async def test_head_keeps_the_length_of_the_answer_without_a_body(self) -> None:
        def service(request: httpx.Request) -> httpx.Response:
            assert request.method == "HEAD"
            return httpx.Response(
                200,
                stream=httpx.ByteStream(b""),
                headers={"content-type": "application/json", "content-length": "1234"},
            )

        async with running_gateway(network(geo=httpx.MockTransport(service))) as client:
            response = await client.head("/api/geo/wards")

        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["content-length"] == "1234"


class TestRefusals:
    async def test_an_unknown_service_is_404_without_calling_anything(self) -> None:
        services = network()
        async with running_gateway(services) as client:
            response = await client.post("/api/payments/charges", json={"amount": 1})

        problem = assert_problem(response, 404, "unknown-service")
        assert problem["known_services"] == ["alerts", "dispatch", "geo", "identity"]
        assert problem["instance"] == "/api/payments/charges"
        assert services.requests == []

    async def test_a_path_with_dot_segments_is_refused(self) -> None:
        services = network()
        async with running_gateway(services) as client:
            response = await client.get("/api/geo/%2e%2e/metrics")

        assert_problem(response, 400, "invalid-path")
        assert services.requests == []

    async def test_a_services_metrics_are_not_public(self) -> None:
        services = network()
        async with running_gateway(services) as client:
            responses = [
                await client.get("/api/dispatch/metrics"),
                await client.get("/api/geo/metrics/"),
            ]

        for response in responses:
            assert_problem(response, 404, "internal-endpoint")
        assert services.requests == []

    async def test_a_body_over_the_limit_is_413_before_anything_is_sent(self) -> None:
        services = network()
        settings = gateway_settings(max_body_bytes=1024)
        async with running_gateway(services, settings) as client:
            response = await client.post("/api/alerts/alerts", content=b"x" * 1025)

        problem = assert_problem(response, 413, "request-too-large")
        assert problem["max_body_bytes"] == 1024
        assert services.requests == []

    async def test_a_streamed_body_over_the_limit_is_413(self) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"y" * 300

        services = network()
        settings = gateway_settings(max_body_bytes=1024)
        async with running_gateway(services, settings) as client:
            response = await client.post("/api/alerts/alerts", content=chunks())

        # The body streams to the service as it comes, so the service saw it begin; the gateway
        # stopped it at the limit (tests/gateway/proxy/test_streaming.py counts the bytes).
        assert_problem(response, 413, "request-too-large")

    async def test_a_body_at_the_limit_is_forwarded(self) -> None:
        settings = gateway_settings(max_body_bytes=1024)
        async with running_gateway(network(), settings) as client:
            response = await client.put("/api/alerts/alerts/1", content=b"z" * 1024)

        assert response.status_code == 200
        assert base64.b64decode(str(seen_by_upstream(response)["body_b64"])) == b"z" * 1024


class TestUpstreamFailures:
    async def test_a_refused_connection_is_503(self) -> None:
        async with running_gateway(network(alerts=failing(httpx.ConnectError))) as client:
            response = await client.get("/api/alerts/alerts")

        problem = assert_problem(response, 503, "service-unavailable")
        assert problem["detail"] == "the alerts service is unavailable"
        assert problem["service"] == "alerts"

    async def test_a_read_timeout_is_504(self) -> None:
        async with running_gateway(network(geo=failing(httpx.ReadTimeout))) as client:
            response = await client.get("/api/geo/wards")

        problem = assert_problem(response, 504, "gateway-timeout")
        assert problem["service"] == "geo"

    async def test_a_connect_timeout_is_504(self) -> None:
        async with running_gateway(network(geo=failing(httpx.ConnectTimeout))) as client:
            response = await client.get("/api/geo/wards")

        assert_problem(response, 504, "gateway-timeout")

    async def test_a_broken_answer_is_502(self) -> None:
        transport = failing(httpx.RemoteProtocolError)
        async with running_gateway(network(dispatch=transport)) as client:
            response = await client.post("/api/dispatch/deliveries", json={})

        problem = assert_problem(response, 502, "bad-gateway")
        assert problem["service"] == "dispatch"

    async def test_a_closed_port_on_the_real_network_is_503(self) -> None:
        # No transport injected: a real connection to a port nobody listens on.
        settings = gateway_settings(alerts_url=f"http://127.0.0.1:{free_port()}")
        async with running_gateway(None, settings) as client:
            response = await client.get("/api/alerts/alerts")

        assert_problem(response, 503, "service-unavailable")

    async def test_a_silent_service_on_the_real_network_is_504(self) -> None:
        accepted = asyncio.Event()

        async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set()
            await reader.read()  # until the gateway gives up and closes
            writer.close()

        server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        settings = gateway_settings(alerts_url=f"http://127.0.0.1:{port}", upstream_timeout_s=0.3)
        async with server, running_gateway(None, settings) as client:
            response = await client.get("/api/alerts/alerts")

        assert accepted.is_set()
        assert_problem(response, 504, "gateway-timeout")
