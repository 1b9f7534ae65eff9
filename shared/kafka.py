"""Kafka clients built from settings, so that every service configures them the same way."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import PERSONAL_DATA_RETENTION, Topic
from shared.logs import get_logger

log = get_logger(__name__)


def namespaced(name: str, namespace: str) -> str:
    """A topic or consumer-group name inside a namespace (``KAFKA_NAMESPACE``): environments,
    or test sessions, that share one cluster each read and write only their own."""
    return f"{namespace}.{name}" if namespace else name


def producer_config(
    bootstrap_servers: str, *, enable_idempotence: bool, client_id: str
) -> dict[str, Any]:
    """acks=all: an event counts as published only once every in-sync replica has it."""
    return {
        "bootstrap_servers": bootstrap_servers,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": enable_idempotence,
        "linger_ms": 5,
        "request_timeout_ms": 15000,
    }


def build_producer(
    bootstrap_servers: str, *, enable_idempotence: bool, client_id: str
) -> AIOKafkaProducer:
    """A producer as every service configures it (``producer_config``)."""
    return AIOKafkaProducer(
        **producer_config(
            bootstrap_servers, enable_idempotence=enable_idempotence, client_id=client_id
        )
    )


def build_consumer(
    *topics: str,
    bootstrap_servers: str,
    group_id: str,
    client_id: str,
    namespace: str,
    max_poll_records: int = 500,
) -> AIOKafkaConsumer:
    """Offsets are committed by hand, after the database commit: never automatically.

    ``topics`` and ``group_id`` are the registered names; the consumer reads them inside
    ``namespace``."""
    return AIOKafkaConsumer(
        *(namespaced(topic, namespace) for topic in topics),
        bootstrap_servers=bootstrap_servers,
        group_id=namespaced(group_id, namespace),
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


def topic_configs(topic: Topic) -> dict[str, str]:
    """A topic's settings at creation: a bounded retention for those naming members."""
    retention = PERSONAL_DATA_RETENTION.get(topic)
    if retention is None:
        return {}
    return {"retention.ms": str(int(retention.total_seconds() * 1000))}


async def ensure_topics(
    bootstrap_servers: str, *, namespace: str, partitions: int, replication_factor: int = 1
) -> list[str]:
    """Create every registered topic that is missing in ``namespace``; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="tawny-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in Topic if namespaced(topic.value, namespace) not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            namespaced(topic.value, namespace),
                            partitions,
                            replication_factor,
                            topic_configs=topic_configs(topic),
                        )
                        for topic in missing
                    ]
                )
            except TopicAlreadyExistsError:
                log.info("kafka.topics.raced", topics=[topic.value for topic in missing])
        created = [namespaced(topic.value, namespace) for topic in missing]
        log.info("kafka.topics.ready", created=created, partitions=partitions)
        return created
    finally:
        await admin.close()
