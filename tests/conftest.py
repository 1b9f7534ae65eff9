"""Session-wide fixtures: one embedded PostgreSQL and one Kafka-compatible broker for the run;
the fixtures every service's tests share come from tests/support/harness.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.infrastructure import Infrastructure, test_infrastructure

pytest_plugins = ["tests.support.harness"]


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    with test_infrastructure() as infra:
        yield infra
