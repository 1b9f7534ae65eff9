"""Defects found by fuzzing through the gateway (issue 15), on the real network: header values
with surrounding whitespace, and pooled connections a service has just closed."""

from __future__ import annotations

from tests.gateway.fakes import RawService, gateway_settings, running_gateway


class TestHeaderValues:
    async def test_a_value_ending_in_whitespace_is_forwarded_trimmed(self) -> None:
        async with RawService(status=401) as service:
            settings = gateway_settings(identity_url=service.url)
            async with running_gateway(None, settings) as client:
                response = await client.get(
                    "/api/identity/members/me",
                    headers={"Authorization": "Bearer ", "Accept-Language": "en "},
                )

        # The service's own answer, not a 502 from the gateway.
        assert response.status_code == 401
        (head,) = service.heads
        assert b"authorization: Bearer" in [line.lower()[:14] + line[14:] for line in head]
        assert b"accept-language: en" in [line.lower()[:16] + line[16:] for line in head]


class TestStalePooledConnections:
    async def test_requests_after_a_service_drops_a_connection_are_answered(self) -> None:
        async with RawService(close_after="/boom") as service:
            settings = gateway_settings(alerts_url=service.url)
            async with running_gateway(None, settings) as client:
                failed = await client.get("/api/alerts/boom")
                after = [(await client.get("/api/alerts/ok")).status_code for _ in range(20)]

        assert failed.status_code == 500
        assert after == [200] * 20
        # The dropped connection was replaced by exactly one new one.
        assert service.connections == 2
