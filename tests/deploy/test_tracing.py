"""One alert is one trace: the officer's request, alerts' outbox and its publish, geo's handling
and its recipient batches, dispatch's handling of each batch and its send to the batch's
recipients, joined across three services' databases and Kafka by the context the event
envelope carries.

The chain is built from the platform's own parts (a FastAPI app instrumented as the services
are, ``add_event``/``add_events``, ``OutboxRelay``, ``IdempotentConsumer`` and the span the
delivery worker opens per send), on real PostgreSQL and the Kafka protocol, with the spans
collected by an in-memory exporter."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request, Response
from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracer, SpanKind
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from deploy.infra import create_databases, database_url_for
from services.gateway.app import create_app as create_gateway
from shared.consumer import IdempotentConsumer
from shared.db import build_engine, build_sessionmaker, session_scope
from shared.events import AlertPublished, EventEnvelope, RecipientBatch, Topic
from shared.kafka import build_consumer, build_producer
from shared.outbox import OutboxRelay, add_event, add_events
from shared.settings import ServerProcessSettings
from shared.tracing import (
    batch_span,
    current_trace_carrier,
    instrument_app,
    instrument_engine,
    tracer_for,
    tracing_configured,
)
from tests.gateway.fakes import GATEWAY_BASE_URL, echo_service, gateway_settings
from tests.support.handled_events import Base, OutboxMessage, ProcessedEvent, alert_published
from tests.support.infrastructure import Infrastructure
from tests.support.tracing import collected_spans
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("alerts", "geo", "dispatch")
SETTINGS = ServerProcessSettings()


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    with collected_spans() as exporter:
        yield exporter


@dataclass
class Service:
    """One service's database (outbox and processed events) and Kafka producer."""

    name: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    producer: AIOKafkaProducer
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def relay(self, namespace: str) -> OutboxRelay:
        relay = OutboxRelay(
            sessions=self.sessions,
            outbox_model=OutboxMessage,
            producer=self.producer,
            namespace=namespace,
            poll_interval_s=0.05,
            tracer=tracer_for(self.name, SETTINGS),
        )
        self.tasks.append(asyncio.create_task(relay.run()))
        return relay

    def consume(
        self, infrastructure: Infrastructure, namespace: str, topic: Topic, handler: Any
    ) -> None:
        payload_class = AlertPublished if topic is Topic.ALERTS else RecipientBatch
        consumer = IdempotentConsumer(
            name=f"{self.name}.tracing-test",
            client=lambda: build_consumer(
                topic.value,
                bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                group_id=f"{self.name}.tracing-test",
                client_id=self.name,
                namespace=namespace,
            ),
            sessions=self.sessions,
            processed_model=ProcessedEvent,
            handlers={payload_class: handler},
            dead_letter_producer=self.producer,
            namespace=namespace,
            tracer=tracer_for(self.name, SETTINGS),
        )
        self.tasks.append(asyncio.create_task(consumer.run()))


@pytest.fixture(scope="module")
def database_urls(infrastructure: Infrastructure) -> dict[str, str]:
    """A database per service (synchronous: creating them runs its own event loop)."""
    suffix = uuid.uuid4().hex[:8]
    names = {service: f"test_tracing_{service}_{suffix}" for service in SERVICES}
    create_databases(infrastructure.server_url, list(names.values()))
    return {
        service: database_url_for(infrastructure.server_url, name)
        for service, name in names.items()
    }


@pytest.fixture
def namespace(infrastructure: Infrastructure) -> str:
    """The three services' Kafka namespace, topics created (synchronous too)."""
    return infrastructure.kafka_namespace_for(f"tracing-{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def services(
    infrastructure: Infrastructure,
    database_urls: dict[str, str],
    exporter: InMemorySpanExporter,
) -> AsyncIterator[dict[str, Service]]:
    built: dict[str, Service] = {}
    try:
        for service, database_url in database_urls.items():
            engine = build_engine(
                database_url,
                application_name=f"tracing-{service}",
                pool_size=4,
            )
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            instrument_engine(engine, service, SETTINGS)
            producer = build_producer(
                infrastructure.kafka_bootstrap_servers,
                enable_idempotence=infrastructure.kafka_enable_idempotence,
                client_id=service,
            )
            await producer.start()
            built[service] = Service(service, engine, build_sessionmaker(engine), producer)
        yield built
    finally:
        for running in built.values():
            for task in running.tasks:
                task.cancel()
            for task in running.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await running.producer.stop()
            await running.engine.dispose()


def officers_app(alerts: Service) -> FastAPI:
    """Alerts' publish, reduced to what matters here: the request stages alert.published in
    its transaction, instrumented as every service's app is."""
    app = FastAPI()

    @app.post("/alerts/{headline}/publication", status_code=202)
    async def publish(headline: str) -> dict[str, str]:
        async with session_scope(alerts.sessions) as session:
            envelope = await add_event(
                session, OutboxMessage, alert_published(headline), producer="alerts"
            )
        return {"event_id": str(envelope.event_id)}

    instrument_app(app, "alerts", SETTINGS)
    return app


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


class TestOneAlertIsOneTrace:
    async def test_spans_of_one_alert_join_across_services(
        self,
        services: dict[str, Service],
        infrastructure: Infrastructure,
        namespace: str,
        exporter: InMemorySpanExporter,
    ) -> None:
        alerts, geo, dispatch = services["alerts"], services["geo"], services["dispatch"]
        dispatch_tracer = tracer_for("dispatch", SETTINGS)
        # What dispatch keeps per batch: the trace its handling ran in (as record_batch
        # stores it on the alert's row), and its recipients.
        batches: list[tuple[dict[str, str] | None, list[uuid.UUID]]] = []

        async def geo_resolves(
            session: AsyncSession, _envelope: EventEnvelope, payload: AlertPublished
        ) -> None:
            # Geo's fan-out: the batches are staged in the handler's transaction.
            await add_events(
                session,
                OutboxMessage,
                [
                    RecipientBatch(
                        content=payload.content,
                        batch_number=number,
                        member_ids=[uuid.uuid4(), uuid.uuid4()],
                    )
                    for number in range(2)
                ],
                producer="geo",
            )

        async def dispatch_records(
            session: AsyncSession, _envelope: EventEnvelope, payload: RecipientBatch
        ) -> None:
            await session.execute(select(1))
            batches.append((current_trace_carrier(), payload.member_ids))

        alerts.relay(namespace)
        geo.relay(namespace)
        geo.consume(infrastructure, namespace, Topic.ALERTS, geo_resolves)
        dispatch.consume(infrastructure, namespace, Topic.RECIPIENT_BATCHES, dispatch_records)

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=officers_app(alerts)), base_url="http://test"
        ) as client:
            response = await client.post("/alerts/traced/publication")
        assert response.status_code == 202

        async def both_batches_handled() -> bool:
            return len(batches) == 2

        await eventually(both_batches_handled)

        # The worker's send: one span for both batches' recipients, in the alert's trace
        # and linked to each batch's handling.
        carriers = [carrier for carrier, _members in batches]
        with batch_span(
            dispatch_tracer,
            "dispatch send email",
            carriers,
            parent=carriers[0],
            attributes={"tawny.recipients": sum(len(members) for _c, members in batches)},
        ):
            pass

        spans = exporter.get_finished_spans()
        request = next(
            span
            for span in spans
            if span.kind is SpanKind.SERVER and service_of(span) == "tawny-alerts"
        )
        assert request.context is not None
        trace_id = request.context.trace_id
        in_trace = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]

        def named(suffix: str, service: str) -> list[ReadableSpan]:
            return [s for s in in_trace if s.name.endswith(suffix) and service_of(s) == service]

        # Alerts: the request, its SQL (the outbox INSERT), and the relay's publish.
        assert named("INSERT", "tawny-alerts")
        assert len(named(f"{Topic.ALERTS.value} publish", "tawny-alerts")) == 1
        # Geo: alert.published handled once, and each of its two batches published.
        assert len(named(f"{Topic.ALERTS.value} process", "tawny-geo")) == 1
        assert len(named(f"{Topic.RECIPIENT_BATCHES.value} publish", "tawny-geo")) == 2
        # Dispatch: each batch handled, and one send for all four recipients.
        handled = named(f"{Topic.RECIPIENT_BATCHES.value} process", "tawny-dispatch")
        assert len(handled) == 2
        (send,) = named("dispatch send email", "tawny-dispatch")
        assert send.attributes is not None and send.attributes["tawny.recipients"] == 4
        assert {link.context.span_id for link in send.links} == {
            span.context.span_id for span in handled if span.context is not None
        }
        # Each handling is a child of the span that staged its event (the request's, geo's).
        (geo_handling,) = named(f"{Topic.ALERTS.value} process", "tawny-geo")
        assert geo_handling.parent is not None
        assert geo_handling.parent.span_id == request.context.span_id
        assert all(
            span.parent and span.parent.span_id == geo_handling.context.span_id
            for span in handled
            if geo_handling.context
        )
        # The relay's polling is no trace of its own: nothing else in the spans but this one
        # alert's trace and Kafka's receive spans of it.
        assert not [s for s in spans if s not in in_trace and s.kind is not SpanKind.CONSUMER]


class TestTracingIsOffByDefault:
    def test_no_endpoint_means_no_tracing_and_no_context_in_the_envelope(self) -> None:
        assert not tracing_configured(ServerProcessSettings())
        assert tracing_configured(
            ServerProcessSettings(otel_exporter_otlp_endpoint="http://collector:4318")
        )
        assert not tracing_configured(
            ServerProcessSettings(
                otel_exporter_otlp_endpoint="http://collector:4318", otel_sdk_disabled=True
            )
        )
        assert current_trace_carrier() is None
        envelope = EventEnvelope.wrap(
            alert_published(), producer="alerts", trace=current_trace_carrier()
        )
        assert envelope.trace is None
        assert "trace" in envelope.model_dump(mode="json")

    def test_without_an_endpoint_nothing_is_instrumented(self) -> None:
        """The dev stack's and the tests' default: no tracer, no instrumented app or library."""
        settings = ServerProcessSettings()
        assert isinstance(tracer_for("alerts", settings), NoOpTracer)
        app = FastAPI()
        instrument_app(app, "alerts", settings)
        assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
        assert not AIOKafkaInstrumentor().is_instrumented_by_opentelemetry


class TestTheGatewayPassesTheTraceOn:
    async def test_a_forwarded_request_continues_the_gateways_trace(self) -> None:
        """The officer's request enters at the gateway: its aiohttp connection to the service
        carries the gateway's trace (``traceparent``), so the service's spans continue it."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        upstream = uvicorn.Server(
            uvicorn.Config(echo_service("alerts"), host="127.0.0.1", port=port, log_config=None)
        )
        serving = asyncio.create_task(upstream.serve())
        try:

            async def upstream_started() -> bool:
                return upstream.started

            await eventually(upstream_started)
            with collected_spans() as exporter:
                gateway = create_gateway(gateway_settings(alerts_url=f"http://127.0.0.1:{port}"))
                async with (
                    gateway.router.lifespan_context(gateway),
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=gateway), base_url=GATEWAY_BASE_URL
                    ) as client,
                ):
                    response = await client.get("/api/alerts/feeds/E09000001")
                spans = exporter.get_finished_spans()
        finally:
            upstream.should_exit = True
            await serving

        assert response.status_code == 200
        forwarded = dict(response.json()["headers"])
        (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
        assert server.context is not None
        assert service_of(server) == "tawny-gateway"
        _version, trace_id, _parent, _flags = forwarded["traceparent"].split("-")
        assert int(trace_id, 16) == server.context.trace_id

    async def test_a_callers_traceparent_does_not_decide_that_the_request_is_traced(
        self,
    ) -> None:
        """Anyone may send ``traceparent`` with the sampled flag; at the gateway the configured
        sampler still decides (here: trace nothing)."""
        settings = gateway_settings(
            otel_traces_sampler="parentbased_traceidratio", otel_traces_sampler_arg="0"
        )
        with collected_spans() as exporter:
            gateway = create_gateway(settings)
            async with (
                gateway.router.lifespan_context(gateway),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=gateway), base_url=GATEWAY_BASE_URL
                ) as client,
            ):
                await client.get(
                    "/",
                    headers={"traceparent": f"00-{'1' * 32}-{'2' * 16}-01"},
                )
            spans = exporter.get_finished_spans()
        assert not [s for s in spans if s.kind is SpanKind.SERVER]


class TestExportOverOtlp:
    async def test_the_standard_variables_send_spans_to_a_collector(self) -> None:
        """The production path: a service process with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set
        exports its spans over OTLP/HTTP (here to a collector stand-in that decodes them)."""
        received: list[ExportTraceServiceRequest] = []
        collector = FastAPI()

        @collector.post("/v1/traces")
        async def traces(request: Request) -> Response:
            received.append(ExportTraceServiceRequest.FromString(await request.body()))
            return Response(status_code=200, media_type="application/x-protobuf")

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(collector, host="127.0.0.1", port=port, log_config=None)
        )
        serving = asyncio.create_task(server.serve())
        try:

            async def collector_started() -> bool:
                return server.started

            await eventually(collector_started)
            # Its own process: a tracer provider set for OTLP is global to the process.
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from shared.settings import ServerProcessSettings\n"
                "from shared.tracing import tracer_provider_for\n"
                "provider = tracer_provider_for('alerts', ServerProcessSettings())\n"
                "with provider.get_tracer('check').start_as_current_span('otlp.check'):\n"
                "    pass\n"
                "provider.shutdown()\n",
                cwd=ROOT,
                env={
                    **os.environ,
                    "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                    "OTEL_TRACES_SAMPLER": "always_on",
                },
            )
            assert await process.wait() == 0
        finally:
            server.should_exit = True
            await serving

        spans = [
            (resource.resource, span.name)
            for request in received
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]
        assert [name for _resource, name in spans] == ["otlp.check"]
        attributes = {a.key: a.value.string_value for a in spans[0][0].attributes}
        assert attributes["service.name"] == "tawny-alerts"
