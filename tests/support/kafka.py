"""Kafka for tests: producers and readers that work inside a namespace, so that tests name
topics as ``shared.events.Topic`` registers them."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.kafka import namespaced, producer_config
from shared.settings import ServiceSettings


class NamespacedProducer(AIOKafkaProducer):  # type: ignore[misc]
    """A producer configured as ``shared.kafka.build_producer`` does, whose ``send`` (and so
    ``send_and_wait``) puts the record on the topic of that name inside its namespace."""

    def __init__(self, *, namespace: str, **config: Any) -> None:
        super().__init__(**config)
        self.namespace = namespace

    async def send(self, topic: str, *args: Any, **kwargs: Any) -> Any:
        return await super().send(namespaced(topic, self.namespace), *args, **kwargs)


def namespaced_producer(settings: ServiceSettings, *, client_id: str) -> NamespacedProducer:
    """A producer that publishes where the service of ``settings`` reads (not yet started)."""
    return NamespacedProducer(
        namespace=settings.kafka_namespace,
        **producer_config(
            settings.kafka_bootstrap_servers,
            enable_idempotence=settings.kafka_enable_idempotence,
            client_id=client_id,
        ),
    )


def topic_reader(
    settings: ServiceSettings, *topics: str, group_id: str | None = None
) -> AIOKafkaConsumer:
    """A consumer of the service's ``topics`` from the start (not yet started); no group unless
    one is named, so it joins nothing and starts quickly."""
    return AIOKafkaConsumer(
        *(namespaced(topic, settings.kafka_namespace) for topic in topics),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        client_id=f"tests-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
