"""The outbox relay and the idempotent consumer, together on real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.consumer import IdempotentConsumer
from shared.db import build_sessionmaker, session_scope
from shared.events import AlertPublished, EventEnvelope, Topic
from shared.kafka import build_consumer, build_producer, namespaced
from shared.outbox import OutboxRelay, add_event, add_events
from tests.support.handled_events import (
    HandledAlert,
    OutboxMessage,
    ProcessedEvent,
    alert_published,
)
from tests.support.infrastructure import Infrastructure
from tests.support.waiting import eventually


@pytest.fixture
def namespace(infrastructure: Infrastructure) -> str:
    """Each test in a Kafka namespace of its own: whatever is on a topic there is the test's."""
    return infrastructure.kafka_namespace_for(f"shared-{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def producer(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    """A producer as the services build it: topics are named in full, namespace included."""
    producer = build_producer(
        infrastructure.kafka_bootstrap_servers,
        enable_idempotence=infrastructure.kafka_enable_idempotence,
        client_id="shared-tests",
    )
    await producer.start()
    yield producer
    await producer.stop()


async def read_topic(
    infrastructure: Infrastructure,
    topic: str,
    enough: Callable[[list[dict[str, Any]]], bool],
) -> list[dict[str, Any]]:
    """The JSON objects on ``topic`` (its full name) from the start, once ``enough`` says so."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[dict[str, Any]] = []

    async def enough_read() -> list[dict[str, Any]] | None:
        for records in (await consumer.getmany(timeout_ms=200)).values():
            for record in records:
                # The consumer test puts a malformed record on the topic on purpose.
                with contextlib.suppress(ValueError):
                    envelope = json.loads(record.value or b"")
                    if isinstance(envelope, dict):
                        found.append(envelope)
        return found if enough(found) else None

    try:
        return await eventually(enough_read)
    finally:
        await consumer.stop()


class TestOutboxRelay:
    async def test_publishes_committed_events_only(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        infrastructure: Infrastructure,
        namespace: str,
    ) -> None:
        sessions = build_sessionmaker(engine)
        committed, rolled_back = alert_published("committed"), alert_published("rolled back")
        async with session_scope(sessions) as session:
            await add_event(session, OutboxMessage, committed, producer="tests")
        with contextlib.suppress(RuntimeError):
            async with session_scope(sessions) as session:
                await add_event(session, OutboxMessage, rolled_back, producer="tests")
                raise RuntimeError("the request failed after staging its event")

        relay = OutboxRelay(
            sessions=sessions, outbox_model=OutboxMessage, producer=producer, namespace=namespace
        )
        assert await relay.publish_pending() == 1
        assert await relay.publish_pending() == 0

        async with sessions() as session:
            unpublished = await session.scalar(
                select(func.count()).where(OutboxMessage.published_at.is_(None))
            )
        assert unpublished == 0
        # Published in order, and acknowledged before publish_pending returned: once the
        # committed event is read, anything else the relay sent would have been read too.
        on_topic = await read_topic(
            infrastructure, namespaced(Topic.ALERTS.value, namespace), enough=bool
        )
        assert [e["payload"]["content"]["headline"] for e in on_topic] == ["committed"]

    async def test_reports_what_waits_and_how_old_the_oldest_is(
        self, engine: AsyncEngine, producer: AIOKafkaProducer, namespace: str
    ) -> None:
        sessions = build_sessionmaker(engine)
        relay = OutboxRelay(
            sessions=sessions, outbox_model=OutboxMessage, producer=producer, namespace=namespace
        )
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
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        infrastructure: Infrastructure,
        namespace: str,
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

        relay = OutboxRelay(
            sessions=sessions, outbox_model=OutboxMessage, producer=producer, namespace=namespace
        )
        assert await relay.publish_pending() == 3
        ids = [str(envelope.event_id) for envelope in envelopes]
        published = await read_topic(
            infrastructure,
            namespaced(Topic.ALERTS.value, namespace),
            enough=lambda found: len(found) >= 3,
        )
        assert sorted(envelope["event_id"] for envelope in published) == sorted(ids)


class TestRelayPolling:
    async def test_an_idle_relay_publishes_as_soon_as_it_is_woken(
        self, engine: AsyncEngine, producer: AIOKafkaProducer, namespace: str
    ) -> None:
        sessions = build_sessionmaker(engine)
        # An idle relay that would otherwise wait far longer than the test.
        relay = OutboxRelay(
            sessions=sessions,
            outbox_model=OutboxMessage,
            producer=producer,
            namespace=namespace,
            poll_interval_s=600,
            idle_poll_max_s=600,
        )
        while await relay.publish_pending():
            pass  # whatever other tests of this module left
        running = asyncio.create_task(relay.run())
        try:
            async with session_scope(sessions) as session:
                envelope = await add_event(session, OutboxMessage, alert_published(), producer="t")
            relay.wake()

            async def published() -> bool:
                async with sessions() as session:
                    row = await session.scalar(
                        select(OutboxMessage).where(OutboxMessage.event_id == envelope.event_id)
                    )
                    return row is not None and row.published_at is not None

            await eventually(published)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


class TestIdempotentConsumer:
    async def test_same_event_twice_has_one_effect_and_poison_goes_to_dead_letters(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        infrastructure: Infrastructure,
        namespace: str,
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
            client=lambda: build_consumer(
                Topic.ALERTS.value,
                bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                group_id=group,
                client_id="shared-tests",
                namespace=namespace,
            ),
            sessions=sessions,
            processed_model=ProcessedEvent,
            handlers={AlertPublished: handle},
            dead_letter_producer=producer,
            namespace=namespace,
        )
        headline = f"twice {uuid.uuid4().hex[:6]}"
        envelope = EventEnvelope.wrap(alert_published(headline), producer="tests")
        raw = envelope.model_dump_json().encode()
        poison_key = uuid.uuid4().hex.encode()
        alerts = namespaced(Topic.ALERTS.value, namespace)
        await producer.send_and_wait(alerts, raw, key=b"k")
        await producer.send_and_wait(alerts, raw, key=b"k")
        await producer.send_and_wait(alerts, b"{not json", key=poison_key)

        task = asyncio.create_task(consumer.run())
        try:

            async def handled_and_recorded() -> int | None:
                async with sessions() as session:
                    rows = await session.scalar(
                        select(func.count()).where(HandledAlert.headline == headline)
                    )
                processed = await session_count_processed(sessions, envelope.event_id)
                return rows if rows and processed else None

            await eventually(handled_and_recorded)
            dead = await read_topic(
                infrastructure, namespaced(Topic.DEAD_LETTER.value, namespace), enough=bool
            )
            # The poison came after the duplicate: by now both copies of the event were taken.
            async with sessions() as session:
                rows = await session.scalar(
                    select(func.count()).where(HandledAlert.headline == headline)
                )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        assert handled.count(headline) == 1
        assert rows == 1
        assert [letter["consumer"] for letter in dead] == [group]
        assert "not an event envelope" in str(dead[0]["reason"])


class TestConsumerLag:
    async def test_a_partition_taken_away_is_no_longer_reported(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        infrastructure: Infrastructure,
        namespace: str,
    ) -> None:
        """After a rebalance the partition's new owner reports its lag; the old owner's last
        value must not linger beside it as lag nobody has. (Partitions assigned by hand here:
        what a rebalance does to the assignment, without waiting for one.)"""
        wire_topic = namespaced(Topic.ALERTS.value, namespace)
        group = f"tests.lag.{uuid.uuid4().hex[:8]}"
        for partition in (0, 1):
            await producer.send_and_wait(wire_topic, b"{}", partition=partition)
        kafka_consumer = AIOKafkaConsumer(
            bootstrap_servers=infrastructure.kafka_bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        consumer = IdempotentConsumer(
            name=group,
            client=lambda: kafka_consumer,
            sessions=build_sessionmaker(engine),
            processed_model=ProcessedEvent,
            handlers={},
            dead_letter_producer=producer,
            namespace=namespace,
        )
        first, second = TopicPartition(wire_topic, 0), TopicPartition(wire_topic, 1)

        def lag(partition: TopicPartition) -> float | None:
            return REGISTRY.get_sample_value(
                "tawny_consumer_lag_records",
                {"consumer": group, "topic": wire_topic, "partition": str(partition.partition)},
            )

        await kafka_consumer.start()
        try:
            kafka_consumer.assign([first, second])

            async def both_reported() -> bool:
                await kafka_consumer.getmany(timeout_ms=200, max_records=1)
                await consumer._report_lag(kafka_consumer)
                return lag(first) is not None and lag(second) is not None

            await eventually(both_reported)
            kafka_consumer.assign([first])
            await consumer._report_lag(kafka_consumer)
            assert lag(first) is not None
            assert lag(second) is None
        finally:
            await kafka_consumer.stop()


async def session_count_processed(
    sessions: async_sessionmaker[AsyncSession], event_id: uuid.UUID
) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).where(ProcessedEvent.event_id == event_id)
        )
    return int(count or 0)
