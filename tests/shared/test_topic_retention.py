"""Topics that name members keep their records only as long as ``PERSONAL_DATA_RETENTION``
says, in development (topics created by ``ensure_topics``) and in production (Strimzi's
KafkaTopic resources) alike: an erasure reaches the broker through retention alone."""

from __future__ import annotations

from pathlib import Path

import yaml

from shared.events import PERSONAL_DATA_RETENTION, Topic
from shared.kafka import topic_configs

KAFKA_YAML = Path(__file__).resolve().parents[2] / "k8s" / "infrastructure" / "kafka.yaml"


def production_retention_ms() -> dict[str, int]:
    documents = yaml.safe_load_all(KAFKA_YAML.read_text(encoding="utf-8"))
    return {
        document["spec"]["topicName"]: int(document["spec"]["config"]["retention.ms"])
        for document in documents
        if document and document.get("kind") == "KafkaTopic"
    }


class TestPersonalDataRetention:
    def test_topics_naming_members_are_created_with_their_retention(self) -> None:
        for topic, retention in PERSONAL_DATA_RETENTION.items():
            expected = str(int(retention.total_seconds() * 1000))
            assert topic_configs(topic) == {"retention.ms": expected}
        assert topic_configs(Topic.ALERTS) == {}

    def test_production_keeps_them_no_longer(self) -> None:
        production = production_retention_ms()
        for topic, retention in PERSONAL_DATA_RETENTION.items():
            assert production[topic.value] <= retention.total_seconds() * 1000, topic
