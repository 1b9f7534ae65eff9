"""Session-wide fixtures: one embedded PostgreSQL and one Kafka-compatible broker for the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.infrastructure import Infrastructure, test_infrastructure


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    with test_infrastructure() as infra:
        yield infra
