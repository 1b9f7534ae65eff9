"""Dispatch's delivery counts: through Kafka into the running alerts app, kept per message and
channel with the latest ``as_of`` winning, and shown in the alert's stats."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.delivery.consumers import DELIVERY_STATS_GROUP
from services.alerts.delivery.repository import DeliveryStatsRepository
from services.alerts.delivery.service import record_delivery_stats
from services.alerts.models import DeliveryStats, ProcessedEvent
from shared.events import DeliveryCounts, DeliveryStatsReported, EventEnvelope
from tests.alerts.helpers import (
    create_alert,
    draft,
    mapped_settings,
    officer,
    officer_headers,
    service_for,
)
from tests.support.waiting import eventually

# Reports are about alerts sent today: a fixed day would age past any retention window.
T0 = datetime.now(UTC).replace(second=0, microsecond=0)


def report(alert_id: uuid.UUID, minutes: int, **channels: DeliveryCounts) -> DeliveryStatsReported:
    return DeliveryStatsReported(
        alert_id=alert_id, as_of=T0 + timedelta(minutes=minutes), channels=channels
    )


async def publish(producer: AIOKafkaProducer, envelope: EventEnvelope) -> None:
    payload = envelope.parse_payload()
    await producer.send_and_wait(
        payload.topic.value,
        envelope.model_dump_json().encode(),
        key=payload.partition_key().encode(),
    )


async def published_alert(client: httpx.AsyncClient) -> uuid.UUID:
    headers = officer_headers()
    alert = await create_alert(client, headers)
    published = await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
    assert published.status_code == 200, published.text
    return uuid.UUID(alert["id"])


class TestDeliveryStatsConsumer:
    async def test_the_latest_report_per_channel_shows_in_the_stats(
        self,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        alert_id = await published_alert(client)
        newer = EventEnvelope.wrap(
            report(
                alert_id,
                5,
                email=DeliveryCounts(recipients=100, sent=98, delivered=90, failed=2),
                webpush=DeliveryCounts(recipients=40, sent=40, delivered=39, failed=1),
            ),
            producer="dispatch",
        )
        late_older = EventEnvelope.wrap(
            report(alert_id, 1, email=DeliveryCounts(recipients=100, sent=10)),
            producer="dispatch",
        )
        # Same key, same partition: once the SMS report is in, the two before it were handled.
        marker = EventEnvelope.wrap(
            report(alert_id, 6, sms=DeliveryCounts(recipients=5, sent=5, delivered=5)),
            producer="dispatch",
        )
        for envelope in (newer, late_older, newer, marker):
            await publish(producer, envelope)

        async def stats_with_sms() -> dict[str, Any] | None:
            response = await client.get(f"/alerts/{alert_id}/stats", headers=officer_headers())
            body: dict[str, Any] = response.json()
            return body if "sms" in body["channels"] else None

        stats = await eventually(stats_with_sms)

        assert stats["channels"]["email"] == {
            "recipients": 100,
            "sent": 98,
            "delivered": 90,
            "failed": 2,
            "as_of": (T0 + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        assert stats["channels"]["webpush"]["delivered"] == 39
        assert stats["channels"]["sms"]["sent"] == 5
        assert stats["messages"] == [
            {"message_id": str(alert_id), "msg_type": "Alert", "channels": stats["channels"]}
        ]
        async with sessions() as session:
            handled = await session.scalars(
                select(ProcessedEvent.event_id).where(
                    ProcessedEvent.consumer == DELIVERY_STATS_GROUP,
                    ProcessedEvent.event_id.in_([newer.event_id, late_older.event_id]),
                )
            )
            assert sorted(handled.all()) == sorted([newer.event_id, late_older.event_id])

    async def test_a_follow_up_has_its_own_counts(
        self, client: httpx.AsyncClient, producer: AIOKafkaProducer
    ) -> None:
        headers = officer_headers()
        alert = await create_alert(client, headers)
        await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
        update = await client.post(
            f"/alerts/{alert['id']}/updates",
            json={"instruction": "Avoid Mill Lane.", "no_victim_details_confirmed": True},
            headers=headers,
        )
        update_id = uuid.UUID(update.json()["id"])

        await publish(
            producer,
            EventEnvelope.wrap(
                report(update_id, 2, email=DeliveryCounts(recipients=7, sent=7)),
                producer="dispatch",
            ),
        )

        async def update_counted() -> dict[str, Any] | None:
            body: dict[str, Any] = (
                await client.get(f"/alerts/{alert['id']}/stats", headers=headers)
            ).json()
            return body if body["messages"][-1]["channels"] else None

        stats = await eventually(update_counted)
        assert stats["channels"] == {}
        assert [m["msg_type"] for m in stats["messages"]] == ["Alert", "Update"]
        assert stats["messages"][-1]["channels"]["email"]["recipients"] == 7


class TestKeepingTheLatest:
    async def test_an_older_or_equal_report_changes_nothing(self, session: AsyncSession) -> None:
        alert = await service_for(session).create_draft(
            draft(target_borough_codes=["E09000007"]), author=officer("E09000007")
        )
        repository = DeliveryStatsRepository(session)

        assert await record_delivery_stats(
            session,
            report(alert.id, 3, email=DeliveryCounts(recipients=10, sent=3)),
            settings=mapped_settings(),
        )
        await record_delivery_stats(
            session,
            report(alert.id, 2, email=DeliveryCounts(recipients=10, sent=1)),
            settings=mapped_settings(),
        )
        await record_delivery_stats(
            session,
            report(alert.id, 3, email=DeliveryCounts(recipients=10, sent=2)),
            settings=mapped_settings(),
        )
        [row] = await repository.for_messages([alert.id])
        assert (row.sent, row.as_of) == (3, T0 + timedelta(minutes=3))

        await record_delivery_stats(
            session,
            report(alert.id, 4, email=DeliveryCounts(recipients=10, sent=9, failed=1)),
            settings=mapped_settings(),
        )
        await session.refresh(row)
        assert (row.sent, row.failed) == (9, 1)

    async def test_a_report_about_an_unknown_message_is_dropped(
        self, session: AsyncSession
    ) -> None:
        unknown = uuid.uuid4()

        kept = await record_delivery_stats(
            session,
            report(unknown, 1, email=DeliveryCounts(recipients=1)),
            settings=mapped_settings(),
        )

        assert not kept
        assert (
            await session.scalars(select(DeliveryStats).where(DeliveryStats.alert_id == unknown))
        ).all() == []
