"""The real PostgreSQL and Kafka that tests run against: the embedded ones from the dev stack,
or the servers named by ``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` when those are set.

Every test session has a Kafka namespace of its own (``KAFKA_NAMESPACE``), and each service's
in-process app a namespace inside it: an app reads only the events its own tests publish, and
two sessions on one broker never meet."""

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
from shared.kafka import ensure_topics, namespaced

# As many as production has (k8s/infrastructure/kafka.yaml), so partitioning is exercised.
PARTITIONS = 12


@dataclass(frozen=True)
class Infrastructure:
    server_url: str
    kafka_bootstrap_servers: str
    kafka_enable_idempotence: bool
    # This session's namespace; what runs in it uses a namespace inside (kafka_namespace_for).
    kafka_namespace: str

    def fresh_database(self, service: str) -> str:
        """A new database for one service, built by that service's own migrations."""
        name = f"test_{service}_{uuid.uuid4().hex[:8]}"
        create_databases(self.server_url, [name])
        url = database_url_for(self.server_url, name)
        migrations.upgrade(service, url)
        return url

    def kafka_namespace_for(self, name: str) -> str:
        """A namespace of this session's (for one service's app, or one group of tests), with
        every registered topic created in it. Synchronous, like ``fresh_database``."""
        namespace = namespaced(name, self.kafka_namespace)
        asyncio.run(
            ensure_topics(self.kafka_bootstrap_servers, namespace=namespace, partitions=PARTITIONS)
        )
        return namespace


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
        namespace = f"test-{uuid.uuid4().hex[:8]}"
        yield Infrastructure(server_url, bootstrap, idempotence, namespace)


# For the platform run as processes (tests/e2e, tests/browser): a loaded machine makes a service
# slow to answer, never wrong, so the gateway waits as long as a test's own backstop would
# rather than answering 504 (gateway timeouts are tested in-process, tests/gateway).
SLOW_MACHINE_ENV = {"GATEWAY_UPSTREAM_TIMEOUT_S": "120"}

# Every end-to-end and browser test, the fuzzer's thousands of requests included, comes from
# 127.0.0.1 and a few accounts (the demo officer in most journeys, at machine speed) on one
# platform: limits sized for one resident would turn later tests' requests
# into 429s. The limits themselves are tested in-process (tests/gateway/edge/test_ratelimit.py).
SHARED_RIG_RATE_LIMITS = {
    "GATEWAY_RATE_LIMIT_PER_IP_PER_MINUTE": "1000000",
    "GATEWAY_RATE_LIMIT_IP_BURST": "100000",
    "GATEWAY_RATE_LIMIT_PER_ACCOUNT_PER_MINUTE": "1000000",
    "GATEWAY_RATE_LIMIT_ACCOUNT_BURST": "100000",
}
# What tests' own HTTP clients allow the platform's processes, on the same reasoning.
PLATFORM_CLIENT_TIMEOUT_S = 150.0
