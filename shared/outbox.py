"""The transactional outbox: an event is written in the same transaction as the change that
caused it, and a relay publishes it afterwards. Nothing is published that was rolled back,
and nothing committed is lost if the broker is down for a while."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import NoOpTracer, SpanKind, Tracer
from prometheus_client import Counter, Gauge
from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    String,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared.db import session_scope, utcnow
from shared.events import EventEnvelope, EventPayload
from shared.kafka import namespaced
from shared.logs import get_logger, request_id_var
from shared.polling import PollPause
from shared.tracing import continued_span, current_trace_carrier

log = get_logger(__name__)

OUTBOX_PUBLISHED = Counter(
    "tawny_outbox_published_total", "Events the outbox relay published", ["topic"]
)

# How often the relay counts what waits: often enough for an alert rule, rare enough to cost
# nothing beside the publishing itself.
WAITING_REPORT_INTERVAL_S = 5.0
OUTBOX_WAITING = Gauge(
    "tawny_outbox_waiting_events", "Committed outbox rows not yet acknowledged by the broker"
)
OUTBOX_OLDEST_WAITING = Gauge(
    "tawny_outbox_oldest_waiting_seconds",
    "Age of the oldest outbox row not yet published (0 when none waits): a stuck relay grows it",
)


class OutboxMixin:
    """Columns of a service's ``outbox`` table; each service maps it onto its own base."""

    __tablename__ = "outbox"

    if TYPE_CHECKING:
        # Mapped subclasses get SQLAlchemy's keyword constructor; say so to the type checker.
        def __init__(self, **columns: Any) -> None: ...

    position: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805 (a declared_attr takes the class)
        return (
            Index(
                "ix_outbox_unpublished",
                "position",
                postgresql_where=text("published_at IS NULL"),
            ),
        )


async def add_event(
    session: AsyncSession,
    outbox_model: type[OutboxMixin],
    payload: EventPayload,
    *,
    producer: str,
) -> EventEnvelope:
    """Stage an event in the caller's transaction. It is published only if that commits."""
    envelope = EventEnvelope.wrap(
        payload,
        producer=producer,
        request_id=request_id_var.get(),
        trace=current_trace_carrier(),
    )
    session.add(
        outbox_model(
            event_id=envelope.event_id,
            topic=payload.topic.value,
            key=payload.partition_key(),
            envelope=envelope.model_dump(mode="json"),
        )
    )
    await session.flush()
    return envelope


async def add_events(
    session: AsyncSession,
    outbox_model: type[OutboxMixin],
    payloads: Sequence[EventPayload],
    *,
    producer: str,
) -> list[EventEnvelope]:
    """Stage many events in the caller's transaction with one multi-row INSERT, in order.

    For fan-out (an alert's thousands of recipient batches): staging them one ``add_event``
    at a time costs a round trip and an ORM flush each."""
    if not payloads:
        return []
    request_id = request_id_var.get()
    trace = current_trace_carrier()
    envelopes = [
        EventEnvelope.wrap(payload, producer=producer, request_id=request_id, trace=trace)
        for payload in payloads
    ]
    await session.execute(
        insert(outbox_model),
        [
            {
                "event_id": envelope.event_id,
                "topic": payload.topic.value,
                "key": payload.partition_key(),
                "envelope": envelope.model_dump(mode="json"),
            }
            for payload, envelope in zip(payloads, envelopes, strict=True)
        ],
    )
    return envelopes


class OutboxRelay:
    """Publishes committed outbox rows in order and marks them only after the broker's ack.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several replicas can relay at once.
    A crash between the ack and the mark republishes those rows; consumers are idempotent.
    """

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        outbox_model: type[OutboxMixin],
        producer: AIOKafkaProducer,
        namespace: str,
        poll_interval_s: float = 0.2,
        idle_poll_max_s: float = 1.0,
        batch_size: int = 500,
        retention: timedelta = timedelta(days=1),
        tracer: Tracer | None = None,
    ) -> None:
        self._sessions = sessions
        self._model = outbox_model
        self._producer = producer
        # Rows hold the registered topic name; the namespace applies on the way out.
        self._namespace = namespace
        self._poll_interval_s = poll_interval_s
        # Every commit in this process that stages events wakes the relay; polling only catches
        # rows nobody announced, so an idle relay backs off to idle_poll_max_s.
        self._pause = PollPause(interval_s=poll_interval_s, idle_max_s=idle_poll_max_s)
        self._batch_size = batch_size
        self._retention = retention
        self._tracer = tracer or NoOpTracer()

    def wake(self) -> None:
        """Ask for a pass now rather than at the next poll (after a commit that added events)."""
        self._pause.wake()

    async def publish_pending(self) -> int:
        model = self._model
        async with session_scope(self._sessions) as session:
            rows = (
                await session.scalars(
                    select(model)
                    .where(model.published_at.is_(None))
                    .order_by(model.position)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            deliveries = [await self._send(row) for row in rows]
            await asyncio.gather(*deliveries)
            await session.execute(
                update(model)
                .where(model.position.in_([row.position for row in rows]))
                .values(published_at=utcnow())
            )
        for row in rows:
            OUTBOX_PUBLISHED.labels(row.topic).inc()
        log.debug("outbox.published", count=len(rows))
        return len(rows)

    async def _send(self, row: OutboxMixin) -> asyncio.Future[Any]:
        """Hand one row to the producer inside the trace that staged it (its span ends at the
        hand-over; the broker's ack is awaited for the whole batch)."""
        topic = namespaced(row.topic, self._namespace)
        with continued_span(
            self._tracer,
            f"{topic} publish",
            row.envelope.get("trace"),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.message.id": str(row.event_id),
            },
        ):
            delivery: asyncio.Future[Any] = await self._producer.send(
                topic,
                value=json.dumps(row.envelope).encode(),
                key=row.key.encode(),
                headers=[("event_type", str(row.envelope["type"]).encode())],
            )
        return delivery

    async def report_waiting(self) -> None:
        """Refresh the waiting gauges (a count over the partial index of unpublished rows)."""
        model = self._model
        async with session_scope(self._sessions) as session:
            waiting, oldest = (
                await session.execute(
                    select(func.count(), func.min(model.created_at)).where(
                        model.published_at.is_(None)
                    )
                )
            ).one()
        OUTBOX_WAITING.set(waiting)
        OUTBOX_OLDEST_WAITING.set(
            0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())
        )

    async def purge_published(self) -> None:
        async with session_scope(self._sessions) as session:
            await session.execute(
                delete(self._model).where(self._model.published_at < utcnow() - self._retention)
            )

    async def run(self) -> None:
        passes = 0
        next_report = 0.0
        while True:
            try:
                # Polling is no one's trace: only each row's publish joins the trace that
                # staged it (its span sets a context of its own).
                with suppress_instrumentation():
                    published = await self.publish_pending()
                    passes += 1
                    if time.monotonic() >= next_report:
                        await self.report_waiting()
                        next_report = time.monotonic() + WAITING_REPORT_INTERVAL_S
                    if passes % 3000 == 0:
                        await self.purge_published()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The broker or the database is away; the rows stay and are retried.
                log.exception("outbox.relay_failed")
                published = 0
                await asyncio.sleep(min(5.0, self._poll_interval_s * 10))
            if published >= self._batch_size:
                self._pause.reset()
            else:
                await self._pause.after(published)
