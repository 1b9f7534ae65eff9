"""KAFKA_NAMESPACE: one setting that prefixes every topic and consumer-group name on the wire."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.events import Topic
from shared.kafka import build_consumer, namespaced
from shared.settings import ServiceSettings


class TestNamespaced:
    def test_an_empty_namespace_leaves_the_registered_name(self) -> None:
        assert namespaced(Topic.ALERTS.value, "") == "tawny.alerts.lifecycle.v1"

    def test_a_namespace_prefixes_the_name(self) -> None:
        assert namespaced(Topic.ALERTS.value, "staging") == "staging.tawny.alerts.lifecycle.v1"
        assert namespaced("geo.audience", "staging") == "staging.geo.audience"


class TestSetting:
    def test_is_read_from_kafka_namespace(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("KAFKA_NAMESPACE", "staging.eu")

        assert ServiceSettings().kafka_namespace == "staging.eu"

    def test_is_empty_by_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("KAFKA_NAMESPACE", raising=False)

        assert ServiceSettings().kafka_namespace == ""

    @pytest.mark.parametrize("bad", ["staging/eu", "staging.", ".staging", "a b", "x" * 101])
    def test_refuses_a_name_kafka_would_not_take(
        self, monkeypatch: pytest.MonkeyPatch, bad: str
    ) -> None:
        monkeypatch.setenv("KAFKA_NAMESPACE", bad)

        with pytest.raises(ValidationError):
            ServiceSettings()


async def test_a_consumer_subscribes_to_the_namespaced_topics() -> None:
    consumer = build_consumer(
        Topic.ALERTS.value,
        Topic.MEMBERS.value,
        bootstrap_servers="127.0.0.1:9",
        group_id="geo.audience",
        client_id="tests",
        namespace="staging",
    )

    assert consumer.subscription() == {
        "staging.tawny.alerts.lifecycle.v1",
        "staging.tawny.identity.members.v1",
    }
