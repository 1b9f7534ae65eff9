"""Kafka clients built from settings, so that every service configures them the same way."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import Topic
from shared.logs import get_logger

log = get_logger(__name__)


def build_producer(
    bootstrap_servers: str, *, enable_idempotence: bool, client_id: str
) -> AIOKafkaProducer:
    """acks=all: an event counts as published only once every in-sync replica has it."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=enable_idempotence,
        linger_ms=5,
        request_timeout_ms=15000,
    )


def build_consumer(
    *topics: str, bootstrap_servers: str, group_id: str, client_id: str, max_poll_records: int = 500
) -> AIOKafkaConsumer:
    """Offsets are committed by hand, after the database commit: never automatically."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        isolation_level="read_committed",
        # Heartbeats come from a background task; a busy or briefly starved process (2 cores,
        # many services) must not be thrown out of its group and trigger a rebalance storm.
        session_timeout_ms=30000,
        heartbeat_interval_ms=3000,
    )


async def ensure_topics(
    bootstrap_servers: str, *, partitions: int, replication_factor: int = 1
) -> list[str]:
    """Create every registered topic that is missing; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="tawny-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic.value for topic in Topic if topic.value not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(name, partitions, replication_factor) for name in missing]
                )
            except TopicAlreadyExistsError:
                log.info("kafka.topics.raced", topics=missing)
        log.info("kafka.topics.ready", created=missing, partitions=partitions)
        return missing
    finally:
        await admin.close()
