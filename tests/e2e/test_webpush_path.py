"""Web push through the whole platform: a resident's browser subscribes (the push sink plays the
browser and the push service), an officer publishes an alert to the ward the resident watches,
and the sink decrypts the alert the dispatcher pushed."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from deploy.devstack import DEMO_OFFICER, DevStack
from tests.e2e.test_alert_path import bearer, eventually, log_in, sign_up_and_verify, two_wards
from tests.support.infrastructure import PLATFORM_CLIENT_TIMEOUT_S

pytestmark = pytest.mark.e2e


async def test_a_resident_with_a_push_subscription_gets_the_alert_in_the_browser(
    platform: DevStack,
) -> None:
    run = uuid.uuid4().hex[:8]
    async with (
        httpx.AsyncClient(
            base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as gateway,
        httpx.AsyncClient(
            base_url=platform.smtp_sink_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as mailbox,
        httpx.AsyncClient(
            base_url=platform.webpush_sink_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as push_service,
    ):
        ward, _other = await two_wards(gateway)
        token = await sign_up_and_verify(
            gateway, mailbox, f"pushed-{run}@example.org", "correct horse battery"
        )
        assert (
            await gateway.post(
                "/api/geo/subscriptions", json={"ward_code": ward}, headers=bearer(token)
            )
        ).status_code == 201

        key = (await gateway.get("/api/dispatch/webpush/vapid-public-key")).json()
        browser = await push_service.post(
            "/subscriptions", json={"application_server_key": key["application_server_key"]}
        )
        subscription = browser.json()
        registered = await gateway.put(
            "/api/dispatch/endpoints/me/webpush", json=subscription, headers=bearer(token)
        )
        assert registered.status_code == 200, registered.text

        officer = await log_in(gateway, *DEMO_OFFICER)
        headline = f"Phone snatches on the high street ({run})"
        created = await gateway.post(
            "/api/alerts/alerts",
            json={
                "headline": headline,
                "body": "Keep phones out of sight near the station.",
                "crime_type": "theft_from_person",
                "severity": "Moderate",
                "urgency": "Expected",
                "target_ward_codes": [ward],
                "no_victim_details_confirmed": True,
            },
            headers=bearer(officer),
        )
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        published = await gateway.post(
            f"/api/alerts/alerts/{alert_id}/publish", headers=bearer(officer)
        )
        assert published.status_code == 200, published.text

        subscription_id = subscription["endpoint"].rsplit("/", 1)[1]

        async def pushes() -> list[dict[str, Any]]:
            response = await push_service.get("/messages", params={"subscription": subscription_id})
            received: list[dict[str, Any]] = response.json()
            return received

        [push] = await eventually(pushes)
        payload = json.loads(push["payload"])
        assert headline in payload["title"]
        assert payload["body"] == "Keep phones out of sight near the station."
        assert payload["severity"] == "Moderate"
