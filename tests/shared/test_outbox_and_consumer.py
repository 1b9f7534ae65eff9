"""The outbox relay and the idempotent consumer, together on real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import String, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from deploy.infra import create_databases, database_url_for
from shared.consumer import IdempotentConsumer, ProcessedEventMixin
from shared.db import UUIDPrimaryKey, build_engine, build_sessionmaker, new_metadata, session_scope
from shared.events import AlertContent, AlertPublished, EventEnvelope, Topic
from shared.kafka import build_consumer, build_producer
from shared.outbox import OutboxMixin, OutboxRelay, add_event, add_events
from tests.support.infrastructure import Infrastructure


class Base(DeclarativeBase):
    metadata = new_metadata()


class OutboxMessage(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class HandledAlert(UUIDPrimaryKey, Base):
    """What the handler under test writes: one row per handled event."""

    __tablename__ = "handled_alerts"
    headline: Mapped[str] = mapped_column(String(200))


def alert_published(headline: str = "Burglary on Acacia Avenue") -> AlertPublished:
    return AlertPublished(
        content=AlertContent(
            alert_id=uuid.uuid4(),
            headline=headline,
            body="Please check your doors.",
            category="burglary",
            severity="Moderate",
            urgency="Expected",
            sender_name="Tawny",
            sent_at=datetime.now(UTC),
        ),
        target_ward_codes=["E05000001"],
    )


@pytest.fixture(scope="module")
def database_url(infrastructure: Infrastructure) -> str:
    name = f"test_shared_{uuid.uuid4().hex[:8]}"
    create_databases(infrastructure.server_url, [name])
    return database_url_for(infrastructure.server_url, name)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(database_url, application_name="shared-tests", pool_size=4)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def producer(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    producer = build_producer(
        infrastructure.kafka_bootstrap_servers,
        enable_idempotence=infrastructure.kafka_enable_idempotence,
        client_id="shared-tests",
    )
    await producer.start()
    yield producer
    await producer.stop()


async def read_topic(
    infrastructure: Infrastructure, topic: str, wanted: int, timeout_s: float = 20.0
) -> list[dict[str, Any]]:
    """Everything on ``topic`` from the start, until ``wanted`` records or the timeout."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        group_id=f"reader-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < wanted and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    # The topic is shared with tests that put malformed records on it.
                    with contextlib.suppress(ValueError):
                        envelope = json.loads(record.value)
                        if isinstance(envelope, dict):
                            found.append(envelope)
    finally:
        await consumer.stop()
    return found


class TestOutboxRelay:
    async def test_publishes_committed_events_only(
        self, engine: AsyncEngine, producer: AIOKafkaProducer, infrastructure: Infrastructure
    ) -> None:
        sessions = build_sessionmaker(engine)
        committed, rolled_back = alert_published("committed"), alert_published("rolled back")
        async with session_scope(sessions) as session:
            await add_event(session, OutboxMessage, committed, producer="tests")
        with contextlib.suppress(RuntimeError):
            async with session_scope(sessions) as session:
                await add_event(session, OutboxMessage, rolled_back, producer="tests")
                raise RuntimeError("the request failed after staging its event")

        relay = OutboxRelay(sessions=sessions, outbox_model=OutboxMessage, producer=producer)
        assert await relay.publish_pending() == 1
        assert await relay.publish_pending() == 0

        async with sessions() as session:
            unpublished = await session.scalar(
                select(func.count()).where(OutboxMessage.published_at.is_(None))
            )
        assert unpublished == 0
        ids = {str(committed.content.alert_id), str(rolled_back.content.alert_id)}
        on_topic = [
            envelope
            for envelope in await read_topic(
                infrastructure, Topic.ALERTS.value, wanted=10**6, timeout_s=3
            )
            if envelope.get("payload", {}).get("content", {}).get("alert_id") in ids
        ]
        assert [e["payload"]["content"]["headline"] for e in on_topic] == ["committed"]

    async def test_reports_what_waits_and_how_old_the_oldest_is(
        self, engine: AsyncEngine, producer: AIOKafkaProducer
    ) -> None:
        sessions = build_sessionmaker(engine)
        relay = OutboxRelay(sessions=sessions, outbox_model=OutboxMessage, producer=producer)
        while await relay.publish_pending():
            pass  # whatever other tests of this module left
        async with session_scope(sessions) as session:
            await add_events(
                session, OutboxMessage, [alert_published(), alert_published()], producer="tests"
            )
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.published_at.is_(None))
                .values(created_at=datetime.now(UTC) - timedelta(minutes=2))
            )

        await relay.report_waiting()
        assert REGISTRY.get_sample_value("tawny_outbox_waiting_events") == 2
        assert (REGISTRY.get_sample_value("tawny_outbox_oldest_waiting_seconds") or 0) >= 120

        while await relay.publish_pending():
            pass
        await relay.report_waiting()
        assert REGISTRY.get_sample_value("tawny_outbox_waiting_events") == 0
        assert REGISTRY.get_sample_value("tawny_outbox_oldest_waiting_seconds") == 0

    async def test_many_events_are_staged_at_once_in_order(
        self, engine: AsyncEngine, producer: AIOKafkaProducer, infrastructure: Infrastructure
    ) -> None:
        sessions = build_sessionmaker(engine)
        payloads = [alert_published(f"fan-out {n}") for n in range(3)]
        async with session_scope(sessions) as session:
            envelopes = await add_events(session, OutboxMessage, payloads, producer="tests")
        with contextlib.suppress(RuntimeError):
            async with session_scope(sessions) as session:
                await add_events(session, OutboxMessage, [alert_published("no")], producer="t")
                raise RuntimeError("the transaction that staged them rolled back")

        staged = [envelope.event_id for envelope in envelopes]
        async with sessions() as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.event_id.in_(staged))
                    .order_by(OutboxMessage.position)
                )
            ).all()
        assert [row.event_id for row in rows] == [envelope.event_id for envelope in envelopes]
        assert [row.key for row in rows] == [payload.partition_key() for payload in payloads]
        assert all(row.created_at is not None for row in rows)

        relay = OutboxRelay(sessions=sessions, outbox_model=OutboxMessage, producer=producer)
        assert await relay.publish_pending() == 3
        ids = {str(envelope.event_id) for envelope in envelopes}
        published = await read_topic(infrastructure, Topic.ALERTS.value, wanted=10**6, timeout_s=3)
        assert ids <= {envelope["event_id"] for envelope in published}


class TestIdempotentConsumer:
    async def test_same_event_twice_has_one_effect_and_poison_goes_to_dead_letters(
        self, engine: AsyncEngine, producer: AIOKafkaProducer, infrastructure: Infrastructure
    ) -> None:
        sessions: async_sessionmaker[AsyncSession] = build_sessionmaker(engine)
        handled: list[str] = []

        async def handle(
            session: AsyncSession, envelope: EventEnvelope, payload: AlertPublished
        ) -> None:
            session.add(HandledAlert(headline=payload.content.headline))
            handled.append(payload.content.headline)

        group = f"tests.consumer.{uuid.uuid4().hex[:8]}"
        consumer = IdempotentConsumer(
            name=group,
            consumer=build_consumer(
                Topic.ALERTS.value,
                bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                group_id=group,
                client_id="shared-tests",
            ),
            sessions=sessions,
            processed_model=ProcessedEvent,
            handlers={AlertPublished: handle},
            dead_letter_producer=producer,
        )
        headline = f"twice {uuid.uuid4().hex[:6]}"
        envelope = EventEnvelope.wrap(alert_published(headline), producer="tests")
        raw = envelope.model_dump_json().encode()
        poison_key = uuid.uuid4().hex.encode()
        await producer.send_and_wait(Topic.ALERTS.value, raw, key=b"k")
        await producer.send_and_wait(Topic.ALERTS.value, raw, key=b"k")
        await producer.send_and_wait(Topic.ALERTS.value, b"{not json", key=poison_key)

        task = asyncio.create_task(consumer.run())
        try:
            async with asyncio.timeout(30):
                while True:
                    async with sessions() as session:
                        rows = await session.scalar(
                            select(func.count()).where(HandledAlert.headline == headline)
                        )
                    processed = await session_count_processed(sessions, envelope.event_id)
                    if rows and processed:
                        break
                    await asyncio.sleep(0.2)
            dead = [
                letter
                for letter in await read_topic(infrastructure, Topic.DEAD_LETTER.value, 10**6, 3)
                if letter.get("consumer") == group
            ]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        assert handled.count(headline) == 1
        assert rows == 1
        assert len(dead) == 1
        assert "not an event envelope" in str(dead[0]["reason"])


async def session_count_processed(
    sessions: async_sessionmaker[AsyncSession], event_id: uuid.UUID
) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).where(ProcessedEvent.event_id == event_id)
        )
    return int(count or 0)
