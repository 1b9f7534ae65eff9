"""The geo.audience consumer end to end: AlertPublished on the alerts topic in, RecipientBatch
events out through the outbox, once per event even when Kafka delivers it twice."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.geo.config import GeoSettings
from services.geo.models import AlertAudience, OutboxMessage, ProcessedEvent
from shared.db import session_scope
from shared.events import AlertPublished, EventEnvelope, Topic
from tests.geo.conftest import TEST_BATCH_SIZE
from tests.geo.factories import alert_published, read_topic, subscribe, unique_ward_code
from tests.support.waiting import eventually


async def send(producer: AIOKafkaProducer, envelope: EventEnvelope, alert: AlertPublished) -> None:
    await producer.send_and_wait(
        Topic.ALERTS.value,
        envelope.model_dump_json().encode(),
        key=alert.partition_key().encode(),
    )


async def wait_for_audience(
    sessions: async_sessionmaker[AsyncSession], event_id: uuid.UUID
) -> AlertAudience:
    async def audience() -> AlertAudience | None:
        async with sessions() as session:
            return await session.scalar(
                select(AlertAudience).where(AlertAudience.event_id == event_id)
            )

    return await eventually(audience)


async def outbox_rows(
    sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID
) -> list[OutboxMessage]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.envelope["payload"]["content"]["alert_id"].astext == str(alert_id))
            .order_by(OutboxMessage.position)
        )
        return list(rows.all())


class TestAudienceConsumer:
    async def test_same_envelope_twice_resolves_once_and_batches_reach_the_topic(
        self,
        app: FastAPI,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        settings: GeoSettings,
    ) -> None:
        ward_w, ward_y, other = unique_ward_code(), unique_ward_code(), unique_ward_code()
        in_w, in_both, in_y, only_other = (uuid.uuid4() for _ in range(4))
        async with session_scope(sessions) as session:
            await subscribe(session, in_w, ward_w)
            await subscribe(session, in_both, ward_w, ward_y)
            await subscribe(session, in_y, ward_y)
            await subscribe(session, only_other, other)
        alert = alert_published([ward_w, ward_y])
        envelope = EventEnvelope.wrap(alert, producer="alerts")
        # Same alert, so the same partition, after the duplicate: once it is resolved, the
        # duplicate before it has been read and skipped.
        sentinel_alert = alert_published([unique_ward_code()], alert_id=alert.content.alert_id)
        sentinel = EventEnvelope.wrap(sentinel_alert, producer="alerts")

        await send(producer, envelope, alert)
        await send(producer, envelope, alert)
        await send(producer, sentinel, sentinel_alert)
        audience = await wait_for_audience(sessions, envelope.event_id)
        sentinel_audience = await wait_for_audience(sessions, sentinel.event_id)

        expected = sorted([in_w, in_both, in_y])
        assert (audience.recipient_count, audience.batch_count) == (3, 2)
        assert (sentinel_audience.recipient_count, sentinel_audience.batch_count) == (0, 0)
        async with sessions() as session:
            audiences = (
                await session.scalars(
                    select(AlertAudience).where(AlertAudience.alert_id == alert.content.alert_id)
                )
            ).all()
            processed = (
                await session.scalars(
                    select(ProcessedEvent.consumer).where(
                        ProcessedEvent.event_id == envelope.event_id
                    )
                )
            ).all()
        assert sorted(a.event_id for a in audiences) == sorted(
            [envelope.event_id, sentinel.event_id]
        )
        assert processed == ["geo.audience"]
        staged = await outbox_rows(sessions, alert.content.alert_id)
        assert [row.envelope["payload"]["batch_number"] for row in staged] == [0, 1]
        assert [row.envelope["payload"]["member_ids"] for row in staged] == [
            [str(m) for m in expected[:TEST_BATCH_SIZE]],
            [str(m) for m in expected[TEST_BATCH_SIZE:]],
        ]

        def ours(published: dict[str, Any]) -> bool:
            # The topic is shared with other tests, some of which put malformed records on it.
            content = published.get("payload", {}).get("content", {})
            return isinstance(content, dict) and content.get("alert_id") == str(
                alert.content.alert_id
            )

        on_topic = await read_topic(
            settings,
            Topic.RECIPIENT_BATCHES.value,
            keep=ours,
            wanted=len(staged),
        )
        assert sorted(e["event_id"] for e in on_topic) == sorted(
            str(row.event_id) for row in staged
        )
        assert all(e["type"] == "recipients.batch" and e["producer"] == "geo" for e in on_topic)
        assert str(only_other) not in {m for e in on_topic for m in e["payload"]["member_ids"]}
