"""The idempotent consumer outlives its Kafka client: a broker that restarts empty and forgets
the group's members, or one that is not there when the client starts, delays events but never
stops the consumer for good. A broker of the test's own is started for each test, since these
stop and start it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from deploy.infra import EmbeddedKafka, free_port
from shared.consumer import IdempotentConsumer
from shared.db import build_sessionmaker
from shared.events import AlertPublished, EventEnvelope, Topic
from shared.kafka import build_consumer, build_producer, ensure_topics, namespaced
from tests.support.handled_events import HandledAlert, ProcessedEvent, alert_published
from tests.support.waiting import eventually

NAMESPACE = "recovery"
PARTITIONS = 3


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[EmbeddedKafka]:
    broker = EmbeddedKafka(free_port())
    await asyncio.to_thread(broker.start, tmp_path / "tansu.log")
    await ensure_topics(broker.bootstrap_servers, namespace=NAMESPACE, partitions=PARTITIONS)
    yield broker
    await asyncio.to_thread(broker.stop)


async def publish(broker: EmbeddedKafka, headline: str) -> None:
    """One alert event on every partition of the topic (whichever the consumer holds)."""
    producer = build_producer(
        broker.bootstrap_servers, enable_idempotence=False, client_id="recovery-tests"
    )
    await producer.start()
    try:
        for partition in range(PARTITIONS):
            envelope = EventEnvelope.wrap(
                alert_published(f"{headline} {partition}"), producer="tests"
            )
            await producer.send_and_wait(
                namespaced(Topic.ALERTS.value, NAMESPACE),
                envelope.model_dump_json().encode(),
                partition=partition,
            )
    finally:
        await producer.stop()


class Recorder:
    def __init__(self, engine: AsyncEngine) -> None:
        self.sessions: async_sessionmaker[AsyncSession] = build_sessionmaker(engine)

    async def handle(
        self, session: AsyncSession, envelope: EventEnvelope, payload: AlertPublished
    ) -> None:
        session.add(HandledAlert(headline=payload.content.headline))

    async def handled(self, headline: str) -> int:
        async with self.sessions() as session:
            count = await session.scalar(
                select(func.count()).where(HandledAlert.headline.startswith(headline))
            )
        return int(count or 0)


def consumer_of(
    recorder: Recorder,
    dead_letters: AIOKafkaProducer,
    client: Callable[[], AIOKafkaConsumer],
    group: str,
) -> IdempotentConsumer:
    return IdempotentConsumer(
        name=group,
        client=client,
        sessions=recorder.sessions,
        processed_model=ProcessedEvent,
        handlers={AlertPublished: recorder.handle},
        dead_letter_producer=dead_letters,
        namespace=NAMESPACE,
        restart_base_delay_s=0.2,
        restart_max_delay_s=1.0,
    )


@contextlib.asynccontextmanager
async def running(consumer: IdempotentConsumer) -> AsyncIterator[None]:
    task = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def dead_letters(broker: EmbeddedKafka) -> AsyncIterator[AIOKafkaProducer]:
    producer = build_producer(
        broker.bootstrap_servers, enable_idempotence=False, client_id="recovery-tests"
    )
    await producer.start()
    yield producer
    await producer.stop()


class TestConsumerRecovery:
    async def test_a_broker_restarted_empty_is_rejoined_and_its_new_events_handled(
        self,
        engine: AsyncEngine,
        broker: EmbeddedKafka,
        dead_letters: AIOKafkaProducer,
        tmp_path: Path,
    ) -> None:
        """``make chaos``'s "broker down at publish": the dev stack's broker keeps nothing, so
        after a restart it knows neither the group nor its member, and refuses the commit of
        the first records the consumer reads. The consumer must carry on and handle them."""
        recorder = Recorder(engine)
        group = f"tests.recovery.{uuid.uuid4().hex[:8]}"
        client = functools.partial(
            build_consumer,
            Topic.ALERTS.value,
            bootstrap_servers=broker.bootstrap_servers,
            group_id=group,
            client_id="recovery-tests",
            namespace=NAMESPACE,
        )
        consumer = consumer_of(recorder, dead_letters, client, group)
        before, after = f"before {uuid.uuid4().hex[:6]}", f"after {uuid.uuid4().hex[:6]}"
        async with running(consumer):
            await publish(broker, before)
            await eventually(lambda: _all_handled(recorder, before))

            await asyncio.to_thread(broker.stop)
            await asyncio.sleep(2.0)  # the outage: the client's connections all fail
            await asyncio.to_thread(broker.start, tmp_path / "tansu.log")
            await ensure_topics(
                broker.bootstrap_servers, namespace=NAMESPACE, partitions=PARTITIONS
            )
            await publish(broker, after)

            await eventually(lambda: _all_handled(recorder, after), timeout_s=120.0)
            assert consumer.started
        assert await recorder.handled(after) == PARTITIONS

    async def test_a_client_that_cannot_start_is_replaced_after_a_back_off(
        self,
        engine: AsyncEngine,
        broker: EmbeddedKafka,
        dead_letters: AIOKafkaProducer,
    ) -> None:
        """A client that fails (here: its broker is not there yet) is not the consumer's end:
        the next client is built afresh and consumes."""
        recorder = Recorder(engine)
        group = f"tests.recovery.{uuid.uuid4().hex[:8]}"
        nobody_listening = f"127.0.0.1:{free_port()}"
        clients_built: list[str] = []

        def client() -> AIOKafkaConsumer:
            servers = nobody_listening if not clients_built else broker.bootstrap_servers
            clients_built.append(servers)
            return build_consumer(
                Topic.ALERTS.value,
                bootstrap_servers=servers,
                group_id=group,
                client_id="recovery-tests",
                namespace=NAMESPACE,
            )

        consumer = consumer_of(recorder, dead_letters, client, group)
        headline = f"late {uuid.uuid4().hex[:6]}"
        async with running(consumer):
            await publish(broker, headline)
            await eventually(lambda: _all_handled(recorder, headline))
        assert clients_built[0] == nobody_listening
        assert clients_built[-1] == broker.bootstrap_servers


async def _all_handled(recorder: Recorder, headline: str) -> bool:
    return await recorder.handled(headline) == PARTITIONS
