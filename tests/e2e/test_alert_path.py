"""One alert's whole path, through every service as a real process: a resident signs up and
watches a ward, an officer publishes an alert there, and exactly the right people get one email."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from deploy.devstack import DEMO_OFFICER, DevStack
from shared.events import Topic
from shared.kafka import namespaced
from tests.support.infrastructure import PLATFORM_CLIENT_TIMEOUT_S
from tests.support.waiting import DEFAULT_TIMEOUT_S
from tests.support.waiting import eventually as eventually

pytestmark = pytest.mark.e2e

VERIFY_LINK = re.compile(r"https?://\S+/api/identity/email-verifications/[A-Za-z0-9_\-]+")


async def messages_to(mailbox: httpx.AsyncClient, address: str) -> list[dict[str, Any]]:
    response = await mailbox.get("/messages", params={"to": address})
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()
    return messages


async def sign_up_and_verify(
    gateway: httpx.AsyncClient, mailbox: httpx.AsyncClient, email: str, password: str
) -> str:
    """Register, follow the emailed link, log in; returns an access token."""
    registered = await gateway.post(
        "/api/identity/members", json={"email": email, "password": password}
    )
    assert registered.status_code == 202, registered.text

    async def verification_mail() -> list[dict[str, Any]]:
        return await messages_to(mailbox, email)

    mail = (await eventually(verification_mail))[0]
    link = VERIFY_LINK.search(mail["text"])
    assert link is not None, mail["text"]
    path = link.group(0).split("/api/", 1)[1]
    verified = await gateway.get(f"/api/{path}")
    assert verified.status_code == 200, verified.text
    token = await log_in(gateway, email, password)

    async def dispatch_knows_the_address() -> bool:
        # Dispatch learns the verified address from identity's event, asynchronously; an alert
        # is only sent to members whose address it already knows.
        response = await gateway.get("/api/dispatch/endpoints/me", headers=bearer(token))
        return response.status_code == 200 and any(
            endpoint["channel"] == "email" for endpoint in response.json()
        )

    await eventually(dispatch_knows_the_address)
    return token


async def log_in(gateway: httpx.AsyncClient, email: str, password: str) -> str:
    response = await gateway.post(
        "/api/identity/tokens", json={"email": email, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def two_wards(gateway: httpx.AsyncClient) -> tuple[str, str]:
    wards = (await gateway.get("/api/geo/wards", params={"limit": 50})).json()
    items = wards if isinstance(wards, list) else wards["items"]
    return items[-1]["code"], items[-2]["code"]


async def published_envelope(platform: DevStack, alert_id: str) -> bytes:
    """The raw alert.published record for this alert, as the broker holds it."""
    consumer = AIOKafkaConsumer(
        namespaced(Topic.ALERTS.value, platform.options.kafka_namespace),
        bootstrap_servers=platform.kafka_bootstrap_servers,
        group_id=f"e2e-reader-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT_S):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        envelope = json.loads(record.value)
                        if envelope["payload"]["content"]["alert_id"] == alert_id:
                            return bytes(record.value)
    finally:
        await consumer.stop()


async def duplicates_skipped(platform: DevStack, service: str, consumer: str) -> float:
    """How many redelivered events a service's consumer recognised and skipped (its metrics)."""
    async with httpx.AsyncClient(timeout=PLATFORM_CLIENT_TIMEOUT_S) as client:
        metrics = (await client.get(f"{platform.service_url(service)}/metrics")).text
    wanted = (f'consumer="{consumer}"', 'outcome="duplicate"', 'type="alert.published"')
    for line in metrics.splitlines():
        if line.startswith("tawny_events_consumed_total{") and all(w in line for w in wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class TestOneAlertEndToEnd:
    async def test_alert_reaches_exactly_the_residents_who_watch_its_ward(
        self, platform: DevStack, gateway: httpx.AsyncClient, mailbox: httpx.AsyncClient
    ) -> None:
        run = uuid.uuid4().hex[:8]
        watched_ward, other_ward = await two_wards(gateway)
        watcher = f"watcher-{run}@example.org"
        bystander = f"bystander-{run}@example.org"
        watcher_token = await sign_up_and_verify(gateway, mailbox, watcher, "correct horse battery")
        bystander_token = await sign_up_and_verify(
            gateway, mailbox, bystander, "staple battery horse"
        )
        for token, ward in ((watcher_token, watched_ward), (bystander_token, other_ward)):
            subscribed = await gateway.post(
                "/api/geo/subscriptions", json={"ward_code": ward}, headers=bearer(token)
            )
            assert subscribed.status_code == 201, subscribed.text

        officer = await log_in(gateway, *DEMO_OFFICER)
        headline = f"Burglaries reported overnight ({run})"
        created = await gateway.post(
            "/api/alerts/alerts",
            json={
                "headline": headline,
                "body": "Several sheds were broken into. Please lock garden buildings.",
                "crime_type": "burglary",
                "severity": "Moderate",
                "urgency": "Expected",
                "target_ward_codes": [watched_ward],
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

        async def alert_mail() -> list[dict[str, Any]]:
            return [m for m in await messages_to(mailbox, watcher) if headline in m["subject"]]

        received = await eventually(alert_mail)
        assert len(received) == 1
        assert "lock garden buildings" in received[0]["text"]

        # The same published event delivered again changes nothing.
        raw = await published_envelope(platform, alert_id)
        producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(
                namespaced(Topic.ALERTS.value, platform.options.kafka_namespace),
                raw,
                key=alert_id.encode(),
            )
        finally:
            await producer.stop()

        async def geo_skipped_duplicate() -> bool:
            return await duplicates_skipped(platform, "geo", "geo.audience") >= 1

        await eventually(geo_skipped_duplicate)
        assert len(await alert_mail()) == 1
        bystander_mail = [
            m for m in await messages_to(mailbox, bystander) if headline in m["subject"]
        ]
        assert bystander_mail == []

        # An update is a new CAP message referencing the original, to the same recipients.
        update_headline = f"Update: arrests made ({run})"
        updated = await gateway.post(
            f"/api/alerts/alerts/{alert_id}/updates",
            json={"headline": update_headline, "no_victim_details_confirmed": True},
            headers=bearer(officer),
        )
        assert updated.status_code == 201, updated.text
        assert updated.json()["references"] == alert_id

        async def update_mail() -> list[dict[str, Any]]:
            return [
                m for m in await messages_to(mailbox, watcher) if update_headline in m["subject"]
            ]

        assert len(await eventually(update_mail)) == 1
        assert [
            m for m in await messages_to(mailbox, bystander) if update_headline in m["subject"]
        ] == []

    async def test_gateway_reports_every_service_ready(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get("/readyz")
        assert response.status_code == 200
        services = response.json()["services"]
        assert set(services) == {"identity", "alerts", "geo", "dispatch"}
