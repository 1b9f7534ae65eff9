"""What a service runs beside its HTTP handlers: the database engine, the Kafka producer, the
outbox relay and the idempotent consumers. Built in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Request
from opentelemetry.trace import NoOpTracer, Tracer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth import JWKSVerifier
from shared.consumer import Handler, IdempotentConsumer, ProcessedEventMixin
from shared.db import build_engine, build_sessionmaker, session_scope
from shared.events import EventPayload
from shared.kafka import build_consumer, build_producer
from shared.logs import get_logger
from shared.outbox import OutboxMixin, OutboxRelay
from shared.periodic import run_every
from shared.settings import ServiceSettings
from shared.tracing import instrument_engine, tracer_for
from shared.web import ReadinessCheck, database_check

log = get_logger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer group of a service: what it reads and which handler takes each event."""

    group_id: str
    topics: tuple[str, ...]
    handlers: Mapping[type[EventPayload], Handler]
    # Records fetched per poll: keep (records x time per record) well under Kafka's
    # max.poll.interval (5 minutes), or the consumer is dropped from its group.
    max_poll_records: int = 500


@dataclass
class ServiceRuntime:
    name: str
    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    producer: AIOKafkaProducer
    verifier: JWKSVerifier
    # The service's own spans start here (a no-op tracer when tracing is off).
    tracer: Tracer = field(default_factory=NoOpTracer)
    relay: OutboxRelay | None = None
    consumers: list[IdempotentConsumer] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def run_every(
        self, interval_s: float, job: Callable[[], Awaitable[object]], *, name: str
    ) -> None:
        """Start a periodic job (``shared.periodic.run_every``) as one of the runtime's tasks,
        so that it is cancelled at shutdown and its being alive shows in readiness."""
        self.tasks.append(asyncio.create_task(run_every(interval_s, job, name=name), name=name))

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        checks: dict[str, ReadinessCheck] = {"database": database_check(self.engine)}

        async def broker() -> bool:
            ready: bool = await self.producer.client.ready(self.producer.client.get_random_node())
            return ready

        checks["broker"] = broker
        for consumer in self.consumers:

            async def consumer_started(consumer: IdempotentConsumer = consumer) -> bool:
                return consumer.started

            checks[f"consumer:{consumer.name}"] = consumer_started
        for task in self.tasks:

            async def task_alive(task: asyncio.Task[None] = task) -> bool:
                return not task.done()

            checks[f"task:{task.get_name()}"] = task_alive
        return checks

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        name: str,
        settings: ServiceSettings,
        *,
        outbox_model: type[OutboxMixin] | None = None,
        processed_model: type[ProcessedEventMixin] | None = None,
        consumers: tuple[ConsumerSpec, ...] = (),
    ) -> AsyncIterator[ServiceRuntime]:
        engine = build_engine(
            settings.database_url,
            application_name=name,
            pool_size=settings.database_pool_size,
            pool_timeout_s=settings.database_pool_timeout_s,
        )
        producer = build_producer(
            settings.kafka_bootstrap_servers,
            enable_idempotence=settings.kafka_enable_idempotence,
            client_id=name,
        )
        verifier = JWKSVerifier(
            settings.identity_jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            max_lifetime_s=settings.jwt_max_lifetime_s,
        )
        instrument_engine(engine, name, settings)
        await producer.start()
        runtime = cls(
            name=name,
            settings=settings,
            engine=engine,
            sessions=build_sessionmaker(engine),
            producer=producer,
            verifier=verifier,
            tracer=tracer_for(name, settings),
        )
        try:
            if outbox_model is not None:
                runtime.relay = OutboxRelay(
                    sessions=runtime.sessions,
                    outbox_model=outbox_model,
                    producer=producer,
                    namespace=settings.kafka_namespace,
                    poll_interval_s=settings.outbox_poll_interval_s,
                    tracer=runtime.tracer,
                )
                runtime.tasks.append(asyncio.create_task(runtime.relay.run(), name="outbox-relay"))
            for spec in consumers:
                assert processed_model is not None, "consumers need a processed_events table"
                consumer = IdempotentConsumer(
                    name=spec.group_id,
                    client=functools.partial(
                        build_consumer,
                        *spec.topics,
                        bootstrap_servers=settings.kafka_bootstrap_servers,
                        group_id=spec.group_id,
                        client_id=name,
                        namespace=settings.kafka_namespace,
                        max_poll_records=spec.max_poll_records,
                    ),
                    sessions=runtime.sessions,
                    processed_model=processed_model,
                    handlers=spec.handlers,
                    dead_letter_producer=producer,
                    namespace=settings.kafka_namespace,
                    after_commit=runtime.relay.wake if runtime.relay is not None else None,
                    tracer=runtime.tracer,
                )
                runtime.consumers.append(consumer)
                runtime.tasks.append(asyncio.create_task(consumer.run(), name=spec.group_id))
            log.info("service.started", service=name)
            yield runtime
        finally:
            for task in runtime.tasks:
                task.cancel()
            for task in runtime.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await producer.stop()
            await verifier.aclose()
            await engine.dispose()
            log.info("service.stopped", service=name)


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back if it raises.
    A commit may have staged outbox events, so the relay is woken straight after."""
    runtime = runtime_of(request)
    async with session_scope(runtime.sessions) as session:
        yield session
    if runtime.relay is not None:
        runtime.relay.wake()


# scope="function": commit before the response is sent, so a client never hears "created"
# about a transaction that then fails, and can read its own write straight away.
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]


def independent_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    """Transactions of their own, for a write that must survive a refused request: a failed
    sign-in counted, a wrong code's used-up try, a reused refresh token's family revoked.

    Every service keeps such a write one way: in ``session_scope(sessions, kept_on=...)``
    (which commits before the refusal goes on), or in a scope that ends before the refusal is
    raised; never by committing the request's own session. Committing the request's session
    would also keep whatever else the request had written before it was refused, and a
    refused request must add nothing but the attempt; a short transaction of its own also
    holds its row locks (a throttle's hot key) no longer than the write."""
    return runtime_of(request).sessions


SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(independent_sessions)]
RuntimeDep = Annotated[ServiceRuntime, Depends(runtime_of)]
