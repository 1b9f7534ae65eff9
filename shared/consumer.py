"""The idempotent consumer: at-least-once delivery from Kafka, exactly-once effect in PostgreSQL.

Each event's id is recorded in ``processed_events`` in the same transaction as the handler's
effects; a redelivered event finds its id there and is skipped. Offsets are committed only
after that transaction has committed, so a crash replays rather than loses.

The consumer outlives its Kafka client: a commit the group refuses (it rebalanced, or a
restarted broker forgot its members) is left to the client's own rejoin, and any other Kafka
error costs a fresh client after a back-off. Either way the records come again from the last
committed offset and are skipped as handled; what never happens is a consumer that stops for
good while its process looks alive (``make chaos``, "broker down at publish").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from opentelemetry.trace import NoOpTracer, SpanKind, Tracer
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy import DateTime, String
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import session_scope, utcnow
from shared.events import EventEnvelope, EventPayload, Topic, UnknownEventError
from shared.kafka import namespaced
from shared.logs import get_logger, request_id_var
from shared.tracing import continued_span

log = get_logger(__name__)

EVENTS_CONSUMED = Counter(
    "tawny_events_consumed_total", "Events handled by a consumer", ["consumer", "type", "outcome"]
)

CONSUMER_LAG = Gauge(
    "tawny_consumer_lag_records",
    "Records on a partition that this process's consumer has not yet handled (high watermark "
    "minus position), as of its last poll",
    ["consumer", "topic", "partition"],
)
CONSUMER_RESTARTS = Counter(
    "tawny_consumer_restarts_total",
    "Kafka clients a consumer replaced after an error the client did not recover from",
    ["consumer"],
)
COMMITS_REFUSED = Counter(
    "tawny_consumer_commits_refused_total",
    "Offset commits the group refused (it had moved on): those records come again",
    ["consumer"],
)
DEAD_LETTERS = Counter(
    "tawny_dead_letters_total",
    "Records a consumer gave up on and put on the dead-letter topic",
    ["consumer", "topic"],
)

Handler = Callable[[AsyncSession, EventEnvelope, Any], Awaitable[None]]


class ProcessedEventMixin:
    """Columns of a service's ``processed_events`` table."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PoisonMessageError(Exception):
    """A message that can never be handled: it goes to the dead-letter topic."""


class IdempotentConsumer:
    def __init__(
        self,
        *,
        name: str,
        client: Callable[[], AIOKafkaConsumer],
        sessions: async_sessionmaker[AsyncSession],
        processed_model: type[ProcessedEventMixin],
        handlers: Mapping[type[EventPayload], Handler],
        dead_letter_producer: AIOKafkaProducer,
        namespace: str,
        max_attempts: int = 8,
        retry_base_delay_s: float = 0.5,
        after_commit: Callable[[], None] | None = None,
        tracer: Tracer | None = None,
        restart_base_delay_s: float = 1.0,
        restart_max_delay_s: float = 30.0,
    ) -> None:
        self.name = name
        # Builds the Kafka client: called again for a fresh one after an unrecovered error.
        self._new_client = client
        self._sessions = sessions
        self._processed = processed_model
        self._handlers = {cls.event_type: handler for cls, handler in handlers.items()}
        self._dead_letters = dead_letter_producer
        self._dead_letter_topic = namespaced(Topic.DEAD_LETTER.value, namespace)
        self._max_attempts = max_attempts
        self._retry_base_delay_s = retry_base_delay_s
        # A handler may have staged outbox events: the runtime passes the relay's wake-up here.
        self._after_commit = after_commit
        self._tracer = tracer or NoOpTracer()
        self._lag_reported: set[TopicPartition] = set()
        self._restart_base_delay_s = restart_base_delay_s
        self._restart_max_delay_s = restart_max_delay_s
        # Restarts since a client last answered a poll: the back-off grows with them.
        self._failures_in_a_row = 0
        self.started = False

    async def run(self) -> None:
        """Consume until cancelled, with a fresh client after any error the client itself does
        not recover from (readiness says not started meanwhile)."""
        while True:
            try:
                await self._run_client()
            except KafkaError as error:
                self._failures_in_a_row += 1
                delay = min(
                    self._restart_max_delay_s,
                    self._restart_base_delay_s * 2 ** (self._failures_in_a_row - 1),
                )
                CONSUMER_RESTARTS.labels(self.name).inc()
                log.warning(
                    "consumer.restarting", consumer=self.name, error=repr(error), delay_s=delay
                )
                await asyncio.sleep(delay)

    async def _run_client(self) -> None:
        client = self._new_client()
        try:
            await client.start()
            self.started = True
            log.info("consumer.started", consumer=self.name)
            await self._consume(client)
        finally:
            self.started = False
            with contextlib.suppress(KafkaError):
                await client.stop()

    async def _consume(self, client: AIOKafkaConsumer) -> None:
        while True:
            batches = await client.getmany(timeout_ms=500)
            self._failures_in_a_row = 0
            for partition, records in batches.items():
                await self._handle_partition(client, partition, records)
            await self._report_lag(client)

    async def _handle_partition(
        self,
        client: AIOKafkaConsumer,
        partition: TopicPartition,
        records: list[ConsumerRecord[bytes, bytes]],
    ) -> None:
        for record in records:
            await self._handle_with_retries(record)
        # Every record above is durable in the database (or dead-lettered): move on.
        try:
            await client.commit({partition: records[-1].offset + 1})
        except (CommitFailedError, IllegalStateError) as error:
            # The group moved on while these were handled (a rebalance, or a restarted broker
            # that forgot its members): the client rejoins by itself, and whoever owns the
            # partition next reads these records again and skips them as handled.
            COMMITS_REFUSED.labels(self.name).inc()
            log.warning(
                "consumer.commit_refused",
                consumer=self.name,
                topic=partition.topic,
                partition=partition.partition,
                error=type(error).__name__,
            )

    async def _report_lag(self, client: AIOKafkaConsumer) -> None:
        """Lag per assigned partition: what an autoscaler and the "consumer stalled" alert read.
        A partition a rebalance took away is no longer reported by this process (its new
        owner reports it), or its last value would linger as lag nobody has."""
        assigned = client.assignment()
        for partition in self._lag_reported - assigned:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self.name, partition.topic, str(partition.partition))
        self._lag_reported &= assigned
        for partition in assigned:
            highwater = client.highwater(partition)
            if highwater is None:
                continue  # no fetch answered for it yet
            position = await client.position(partition)
            CONSUMER_LAG.labels(self.name, partition.topic, str(partition.partition)).set(
                max(0, highwater - position)
            )
            self._lag_reported.add(partition)

    async def _handle_with_retries(self, record: ConsumerRecord[bytes, bytes]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._handle(record)
                return
            except PoisonMessageError as error:
                await self._dead_letter(record, str(error))
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if attempt >= self._max_attempts:
                    log.exception("consumer.gave_up", consumer=self.name, offset=record.offset)
                    await self._dead_letter(record, f"failed {attempt} times: {error!r}")
                    return
                delay = min(30.0, self._retry_base_delay_s * 2 ** (attempt - 1))
                log.warning(
                    "consumer.retry_scheduled",
                    consumer=self.name,
                    attempt=attempt,
                    delay_s=delay,
                    error=repr(error),
                )
                await asyncio.sleep(delay)

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            envelope = EventEnvelope.model_validate_json(record.value or b"")
        except ValidationError as error:
            raise PoisonMessageError(f"not an event envelope: {error}") from error
        if envelope.type not in self._handlers:
            EVENTS_CONSUMED.labels(self.name, envelope.type, "ignored").inc()
            return
        try:
            payload = envelope.parse_payload()
        except (UnknownEventError, ValidationError) as error:
            raise PoisonMessageError(f"bad payload for {envelope.type}: {error}") from error

        token = request_id_var.set(envelope.request_id)
        try:
            # Handled inside the trace that staged the event: events the handler stages in
            # turn (geo's recipient batches) carry this span's context onwards.
            with continued_span(
                self._tracer,
                f"{record.topic} process",
                envelope.trace,
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": record.topic,
                    "messaging.consumer.group.name": self.name,
                    "messaging.message.id": str(envelope.event_id),
                    "tawny.event.type": envelope.type,
                },
            ):
                await self._handle_in_session(envelope, payload)
        finally:
            request_id_var.reset(token)

    async def _handle_in_session(self, envelope: EventEnvelope, payload: EventPayload) -> None:
        handler = self._handlers[envelope.type]
        async with session_scope(self._sessions) as session:
            first_time = await session.scalar(
                insert(self._processed)
                .values(consumer=self.name, event_id=envelope.event_id)
                .on_conflict_do_nothing()
                .returning(self._processed.event_id)
            )
            if first_time is None:
                EVENTS_CONSUMED.labels(self.name, envelope.type, "duplicate").inc()
                log.info(
                    "consumer.duplicate_skipped",
                    consumer=self.name,
                    event_id=str(envelope.event_id),
                )
                return
            await handler(session, envelope, payload)
        EVENTS_CONSUMED.labels(self.name, envelope.type, "handled").inc()
        if self._after_commit is not None:
            self._after_commit()

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        EVENTS_CONSUMED.labels(self.name, "unknown", "dead_lettered").inc()
        DEAD_LETTERS.labels(self.name, record.topic).inc()
        log.error(
            "consumer.dead_lettered",
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
        )
        await self._dead_letters.send_and_wait(
            self._dead_letter_topic,
            value=json.dumps(
                {
                    "consumer": self.name,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "reason": reason,
                    "value": (record.value or b"").decode("utf-8", errors="replace"),
                }
            ).encode(),
            key=record.key,
        )
