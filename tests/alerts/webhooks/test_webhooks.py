"""Partners' delivery-status webhooks, received by a real HTTP server (aiohttp on 127.0.0.1)
that checks every signature as a partner would: the client's alert approved, published,
updated, its delivery totals, cancelled; a failed callback retried under the same id; the
delivery log readable page by page."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.cap.document import CAP_MEDIA_TYPE
from services.alerts.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEvent
from services.alerts.webhooks import signing
from shared.events import DeliveryCounts, DeliveryStatsReported, EventEnvelope
from tests.alerts.cap.test_corpus import CAMDEN, LONDON_WARD_AREA, message
from tests.alerts.cap.test_corpus import client_headers as partner
from tests.alerts.delivery.test_stats import publish
from tests.support.tokens import auth_header
from tests.support.waiting import eventually

SECRET = "whsec-" + "k" * 32


@dataclass
class Receiver:
    """A partner's endpoint: answers 500 to the first callback, then 204; keeps what it got."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    ids_seen: list[str] = field(default_factory=list)
    refused_id: str | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        if not signing.verify(
            SECRET,
            timestamp=headers[signing.TIMESTAMP_HEADER],
            body=body,
            received=headers[signing.SIGNATURE_HEADER],
        ):
            return web.Response(status=401)
        self.ids_seen.append(headers[signing.ID_HEADER])
        if self.refused_id is None:
            self.refused_id = headers[signing.ID_HEADER]
            return web.Response(status=500)
        callback = json.loads(body)
        assert callback["id"] == headers[signing.ID_HEADER]
        assert callback["event"] == headers[signing.EVENT_HEADER]
        self.received.append(callback)
        return web.Response(status=204)

    def events(self) -> list[str]:
        return [c["event"] for c in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/callbacks", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}/callbacks"
    try:
        yield receiver
    finally:
        await runner.cleanup()


def camden_officer() -> dict[str, str]:
    return auth_header(roles=["officer"], area_boroughs=[CAMDEN], member_id=uuid.uuid4())


class TestSigning:
    def test_a_signature_checks_only_with_the_secret_body_and_a_recent_time(self) -> None:
        signed = signing.signature(SECRET, 1_800_000_000, b'{"a":1}')

        def ok(**changes: Any) -> bool:
            arguments: dict[str, Any] = {
                "timestamp": "1800000000",
                "body": b'{"a":1}',
                "received": signed,
                "now": 1_800_000_060,
            }
            arguments.update(changes)
            secret = arguments.pop("secret", SECRET)
            return signing.verify(secret, **arguments)

        assert ok()
        assert not ok(secret="whsec-" + "x" * 32)
        assert not ok(body=b'{"a":2}')
        assert not ok(timestamp="1800000001")
        assert not ok(now=1_800_001_000)


class TestCallbacks:
    async def test_a_partner_hears_its_alert_through_to_cancellation(
        self, client: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver
    ) -> None:
        headers = partner()
        registered = await client.post(
            "/webhooks", json={"url": receiver.url, "secret": SECRET}, headers=headers
        )
        assert registered.status_code == 201, registered.text
        assert "secret" not in registered.json()
        webhook_id = registered.json()["id"]
        posted = await client.post(
            "/alerts/cap",
            content=message("amber-alert-en-es.xml", area=LONDON_WARD_AREA),
            headers={**headers, "Content-Type": CAP_MEDIA_TYPE},
        )
        alert_id = posted.json()["id"]
        officer = camden_officer()

        for step in (
            client.post(f"/alerts/{alert_id}/approve", headers=officer),
            client.post(f"/alerts/{alert_id}/publish", headers=officer),
            client.post(
                f"/alerts/{alert_id}/updates",
                json={"instruction": "Still missing.", "no_victim_details_confirmed": True},
                headers=officer,
            ),
        ):
            response = await step
            assert response.status_code in (200, 201), response.text
        await eventually(lambda: _has(receiver, "alert.updated"))
        await publish(
            producer,
            EventEnvelope.wrap(
                DeliveryStatsReported(
                    alert_id=uuid.UUID(alert_id),
                    as_of=datetime.now(UTC),
                    channels={"email": DeliveryCounts(recipients=3, sent=3, delivered=2, failed=1)},
                ),
                producer="dispatch",
            ),
        )
        await eventually(lambda: _has(receiver, "alert.delivery_totals"))
        cancelled = await client.post(
            f"/alerts/{alert_id}/cancel", json={"reason": "Found safe."}, headers=officer
        )
        assert cancelled.status_code == 201, cancelled.text
        await eventually(lambda: _has(receiver, "alert.cancelled"))

        # Each once; the refused first one arrived later than those after it.
        assert sorted(receiver.events()) == sorted(
            [
                "alert.approved",
                "alert.published",
                "alert.updated",
                "alert.delivery_totals",
                "alert.cancelled",
            ]
        )
        assert all(c["alert"]["id"] == alert_id for c in receiver.received)
        (totals,) = [c for c in receiver.received if c["event"] == "alert.delivery_totals"]
        assert totals["channels"]["email"] == {
            "recipients": 3,
            "sent": 3,
            "delivered": 2,
            "failed": 1,
        }
        # The refused first attempt came again under the same id, and was logged as such.
        assert receiver.ids_seen.count(str(receiver.refused_id)) == 2
        log = await client.get(f"/webhooks/{webhook_id}/deliveries", headers=headers)
        assert log.status_code == 200, log.text
        by_id = {d["id"]: d for d in log.json()}
        first = by_id[str(receiver.refused_id)]
        assert (first["event"], first["status"], first["attempts"]) == (
            "alert.approved",
            "delivered",
            2,
        )
        assert {d["status"] for d in log.json()} == {"delivered"}

    async def test_a_callback_never_acknowledged_is_marked_failed(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = partner()
        # Nothing listens on port 9 of 127.0.0.1 (discard): every attempt is refused.
        registered = await client.post(
            "/webhooks",
            json={
                "url": "http://127.0.0.1:9/callbacks",
                "secret": SECRET,
                "events": ["alert.approved"],
            },
            headers=headers,
        )
        webhook_id = registered.json()["id"]
        posted = await client.post(
            "/alerts/cap",
            content=message("amber-alert-en-es.xml", area=LONDON_WARD_AREA),
            headers={**headers, "Content-Type": CAP_MEDIA_TYPE},
        )
        await client.post(f"/alerts/{posted.json()['id']}/approve", headers=camden_officer())

        async def failed() -> dict[str, Any] | None:
            log = await client.get(f"/webhooks/{webhook_id}/deliveries", headers=headers)
            found = [d for d in log.json() if d["status"] == "failed"]
            return found[0] if found else None

        delivery = await eventually(failed)
        assert delivery["attempts"] == 3
        assert delivery["last_error"]


class TestRestart:
    async def test_a_callback_claimed_by_a_replica_that_died_is_sent_when_its_lease_ends(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        receiver: Receiver,
    ) -> None:
        headers = partner()
        registered = await client.post(
            "/webhooks", json={"url": receiver.url, "secret": SECRET}, headers=headers
        )
        webhook_id = uuid.UUID(registered.json()["id"])
        receiver.refused_id = "none refused in this test"
        delivery_id = uuid.uuid4()
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            # As a replica leaves a row when it dies after claiming it, before recording.
            session.add(
                WebhookDelivery(
                    id=delivery_id,
                    webhook_id=webhook_id,
                    event=WebhookEvent.PUBLISHED,
                    alert_id=uuid.uuid4(),
                    payload={"id": str(delivery_id), "event": "alert.published"},
                    status=WebhookDeliveryStatus.PENDING,
                    attempts=1,
                    last_attempt_at=now,
                    next_attempt_at=now + timedelta(seconds=1),
                )
            )

        await eventually(lambda: _has(receiver, "alert.published"))

        assert receiver.ids_seen == [str(delivery_id)]
        log = await client.get(f"/webhooks/{webhook_id}/deliveries", headers=headers)
        (delivery,) = log.json()
        assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)


class TestRegistration:
    async def test_only_api_clients_register_and_see_only_their_own(
        self, client: httpx.AsyncClient
    ) -> None:
        mine = partner()
        created = await client.post(
            "/webhooks", json={"url": "https://example.org/cb", "secret": SECRET}, headers=mine
        )
        webhook_id = created.json()["id"]

        resident = auth_header(roles=["resident"])
        assert (
            await client.post(
                "/webhooks",
                json={"url": "https://example.org/cb", "secret": SECRET},
                headers=resident,
            )
        ).status_code == 403
        other = partner()
        assert (
            await client.get(f"/webhooks/{webhook_id}/deliveries", headers=other)
        ).status_code == 404
        assert [w["id"] for w in (await client.get("/webhooks", headers=mine)).json()] == [
            webhook_id
        ]
        short = await client.post(
            "/webhooks", json={"url": "https://example.org/cb", "secret": "short"}, headers=mine
        )
        assert short.status_code == 422
        stopped = await client.delete(f"/webhooks/{webhook_id}", headers=mine)
        assert stopped.json()["active"] is False


async def _has(receiver: Receiver, event: str) -> bool:
    return event in receiver.events()
