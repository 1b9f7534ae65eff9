"""The dispatch app's published contract: every endpoint documented with its problems."""

from __future__ import annotations

from typing import Any

import httpx


class TestOpenApi:
    async def test_every_endpoint_has_a_summary_and_problem_responses(
        self, client: httpx.AsyncClient
    ) -> None:
        schema: dict[str, Any] = (await client.get("/openapi.json")).json()
        own = {path: item for path, item in schema["paths"].items() if path not in OPERATIONAL}

        assert set(own) >= {
            "/deliveries/summary",
            "/endpoints/me",
            "/endpoints/me/sms",
            "/endpoints/me/sms/confirmation",
            "/endpoints/me/fcm",
            "/preferences/me",
            "/receipts/notify",
            "/unsubscribe",
            "/endpoints/me/webpush",
            "/webpush/vapid-public-key",
            "/inbox",
            "/inbox/{alert_id}",
        }
        for path, item in own.items():
            for operation in item.values():
                assert operation["summary"]
                problems = [s for s in operation["responses"] if s.startswith(("4", "5"))]
                if path in PUBLIC:
                    assert "401" not in problems
                else:
                    # The unsubscribe link works without signing in: its token is the authority.
                    assert ("400" if path in SIGNED_LINKS else "401") in problems
                for status in problems:
                    content = operation["responses"][status]["content"]
                    assert "application/problem+json" in content

    async def test_the_summary_documents_an_example(self, client: httpx.AsyncClient) -> None:
        schema: dict[str, Any] = (await client.get("/openapi.json")).json()

        summary = schema["components"]["schemas"]["DeliverySummary"]
        assert summary["examples"][0]["channels"]["email"]["sent"] == 1247


OPERATIONAL = {"/healthz", "/readyz", "/metrics"}
SIGNED_LINKS = {"/unsubscribe"}
PUBLIC = {"/webpush/vapid-public-key"}
