"""The real PostgreSQL and Kafka that tests run against: the embedded ones from the dev stack,
or the servers named by ``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` when those are set."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deploy.infra import create_databases, database_url_for, embedded_kafka, embedded_postgres
from shared import migrations
from shared.kafka import ensure_topics


@dataclass(frozen=True)
class Infrastructure:
    server_url: str
    kafka_bootstrap_servers: str
    kafka_enable_idempotence: bool

    def fresh_database(self, service: str) -> str:
        """A new database for one service, built by that service's own migrations."""
        name = f"test_{service}_{uuid.uuid4().hex[:8]}"
        create_databases(self.server_url, [name])
        url = database_url_for(self.server_url, name)
        migrations.upgrade(service, url)
        return url


@contextlib.contextmanager
def test_infrastructure() -> Iterator[Infrastructure]:
    with contextlib.ExitStack() as stack:
        server_url = os.environ.get("DATABASE_URL")
        if not server_url:
            work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tawny-test-")))
            postgres = stack.enter_context(embedded_postgres(work_dir / "pg", durable=False))
            server_url = postgres.url
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        idempotence = os.environ.get("KAFKA_ENABLE_IDEMPOTENCE", "true").lower() == "true"
        if not bootstrap:
            log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tawny-kafka-")))
            broker = stack.enter_context(embedded_kafka(log_dir / "tansu.log"))
            bootstrap = broker.bootstrap_servers
            idempotence = False
        asyncio.run(ensure_topics(bootstrap, partitions=12))
        yield Infrastructure(server_url, bootstrap, idempotence)
