"""The dead-letter command on real PostgreSQL and Kafka: a handler that fails dead-letters an
event; after the fix, replaying it has its effect once, however often it is replayed; a record
that is no event is refused for replay and can be purged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from deploy import deadletters
from deploy.infra import create_databases, database_url_for
from shared.consumer import IdempotentConsumer, PoisonMessageError
from shared.db import build_engine, build_sessionmaker
from shared.events import AlertPublished, EventEnvelope, Topic
from shared.kafka import build_consumer, build_producer, namespaced
from tests.support.handled_events import Base, HandledAlert, ProcessedEvent, alert_published
from tests.support.infrastructure import Infrastructure
from tests.support.waiting import eventually


@pytest.fixture
def database_url(infrastructure: Infrastructure) -> str:
    name = f"test_deadletters_{uuid.uuid4().hex[:8]}"
    create_databases(infrastructure.server_url, [name])
    return database_url_for(infrastructure.server_url, name)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine: AsyncEngine = build_engine(database_url, application_name="deadletter-tests")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield build_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def namespace(infrastructure: Infrastructure) -> str:
    return infrastructure.kafka_namespace_for("deadletters")


@pytest.fixture
async def producer(infrastructure: Infrastructure) -> AsyncIterator[AIOKafkaProducer]:
    producer = build_producer(
        infrastructure.kafka_bootstrap_servers,
        enable_idempotence=infrastructure.kafka_enable_idempotence,
        client_id="deadletter-tests",
    )
    await producer.start()
    yield producer
    await producer.stop()


class TestDeadLetterCommand:
    async def test_replay_after_a_fix_has_its_effect_once_and_poison_is_only_purged(
        self,
        infrastructure: Infrastructure,
        namespace: str,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        bootstrap = infrastructure.kafka_bootstrap_servers
        dead_letter_topic = namespaced(Topic.DEAD_LETTER.value, namespace)
        command = ["--bootstrap-servers", bootstrap, "--namespace", namespace]
        group = f"tests.deadletters.{uuid.uuid4().hex[:8]}"
        # A topic of this test's own: its poison record must not reach other tests' consumers.
        topic = f"tests.deadletters.{uuid.uuid4().hex[:8]}"
        wire_topic = namespaced(topic, namespace)
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(wire_topic, 2, 1)])
        finally:
            await admin.close()
        headline = f"dead-lettered {uuid.uuid4().hex[:6]}"
        fixed = False

        async def handle(session: AsyncSession, _envelope: EventEnvelope, event: object) -> None:
            assert isinstance(event, AlertPublished)
            if not fixed:
                raise PoisonMessageError("a bug in the handler")
            session.add(HandledAlert(headline=event.content.headline))

        consumer = IdempotentConsumer(
            name=group,
            client=lambda: build_consumer(
                topic,
                bootstrap_servers=bootstrap,
                group_id=group,
                client_id=group,
                namespace=namespace,
            ),
            sessions=sessions,
            processed_model=ProcessedEvent,
            handlers={AlertPublished: handle},
            dead_letter_producer=producer,
            namespace=namespace,
        )

        async def handled() -> int:
            async with sessions() as session:
                count = await session.scalar(
                    select(func.count()).where(HandledAlert.headline == headline)
                )
            return count or 0

        async def mine(include_resolved: bool = False) -> list[deadletters.DeadLetter]:
            letters = await deadletters.read_dead_letters(bootstrap, dead_letter_topic)
            return deadletters.select_letters(
                letters, consumer=group, include_resolved=include_resolved
            )

        async def two_letters() -> bool:
            return len(await mine()) == 2

        envelope = EventEnvelope.wrap(alert_published(headline), producer="tests")
        await producer.send_and_wait(wire_topic, envelope.model_dump_json().encode(), key=b"k")
        await producer.send_and_wait(wire_topic, b"{not an event", key=b"poison")
        task = asyncio.create_task(consumer.run())
        try:
            await eventually(two_letters)
            event_letter, poison = sorted(
                await mine(), key=lambda letter: letter.envelope() is None
            )
            assert event_letter.envelope() == envelope
            assert "a bug in the handler" in event_letter.reason
            assert poison.envelope() is None

            assert (
                REGISTRY.get_sample_value(
                    "tawny_dead_letters_total", {"consumer": group, "topic": wire_topic}
                )
                == 2
            )
            lag = [
                sample
                for metric in REGISTRY.collect()
                if metric.name == "tawny_consumer_lag_records"
                for sample in metric.samples
                if sample.labels["consumer"] == group
            ]
            assert lag and all(sample.value >= 0 for sample in lag)

            await deadletters.main([*command, "list", "--consumer", group])
            listing = capsys.readouterr().out
            assert event_letter.ref in listing and poison.ref in listing
            assert "2 dead letter(s)" in listing
            # By topic, named as registered (the letters record the name on the wire).
            await deadletters.main([*command, "list", "--topic", topic])
            assert "2 dead letter(s)" in capsys.readouterr().out
            await deadletters.main([*command, "show", event_letter.ref])
            shown = json.loads(capsys.readouterr().out)
            assert shown["record"]["payload"]["content"]["headline"] == headline
            assert "a bug in the handler" in shown["reason"]

            fixed = True
            code = await deadletters.main([*command, "replay", "--consumer", group])
            assert code == 1  # the poison record is refused: it is no event
            assert f"{poison.ref}: not an event envelope" in capsys.readouterr().out

            async def handled_once() -> bool:
                return await handled() == 1

            await eventually(handled_once)
            # Replaying again (forced) puts the event back once more: the consumer skips it.
            await deadletters.main([*command, "replay", "--force", event_letter.ref])

            async def skipped_as_duplicate() -> bool:
                duplicates = REGISTRY.get_sample_value(
                    "tawny_events_consumed_total",
                    {"consumer": group, "type": "alert.published", "outcome": "duplicate"},
                )
                return (duplicates or 0) >= 1

            await eventually(skipped_as_duplicate)
            assert await handled() == 1

            code = await deadletters.main([*command, "purge", poison.ref])
            assert code == 0
            assert [letter.ref for letter in await mine()] == []
            resolved = {
                letter.ref: [r["action"] for r in letter.resolutions] for letter in await mine(True)
            }
            assert resolved == {
                event_letter.ref: ["replayed", "replayed"],
                poison.ref: ["purged"],
            }
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
