"""OpenTelemetry tracing: one alert is one trace, from the officer's request to each provider call.

The trace context (W3C ``traceparent``/``tracestate``) travels inside the event envelope
(``EventEnvelope.trace``), written when the event is staged in the outbox, so the relay's
later publish, the consumers in other services and the batches they stage in turn all
continue the request's trace. Dispatch's sends are one span per batch of recipients, linked
to the alerts they carry, never one span per recipient.

Tracing is on only where an OTLP endpoint is configured (the standard ``OTEL_*`` variables,
read by the exporter itself): the dev stack and the tests set none, so no tracer provider is
built and every helper here is a no-op costing a dictionary lookup or two.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, Tracer
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.settings import ServerProcessSettings

TRACER_NAME = "tawny"
# Probes and scrapes would otherwise be most of the spans a service sends.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"

TraceCarrier = dict[str, str]


@dataclass
class _Tracing:
    """The process's tracing, once configured: a provider per service (a process normally
    runs one; the in-process tests run several, each with its own ``service.name``)."""

    exporter: SpanExporter | None = None
    providers: dict[str, TracerProvider] = field(default_factory=dict)
    libraries_instrumented: bool = False


_state = _Tracing()


def tracing_configured(settings: ServerProcessSettings) -> bool:
    """Whether the settings ask for traces: an OTLP endpoint and the SDK not disabled."""
    endpoint = settings.otel_exporter_otlp_traces_endpoint or settings.otel_exporter_otlp_endpoint
    return bool(endpoint) and not settings.otel_sdk_disabled


def use_exporter(exporter: SpanExporter | None) -> None:
    """Send every service's spans in this process to ``exporter`` (the tests' in-memory one),
    whatever the settings say; ``None`` forgets it and every provider built with it."""
    for provider in _state.providers.values():
        provider.shutdown()
    _state.providers.clear()
    _state.exporter = exporter
    if exporter is None and _state.libraries_instrumented:
        AIOKafkaInstrumentor().uninstrument()
        HTTPXClientInstrumentor().uninstrument()
        AioHttpClientInstrumentor().uninstrument()
        _state.libraries_instrumented = False


def edge_sampler(settings: ServerProcessSettings) -> Sampler:
    """The sampler where requests come from the internet (the gateway): a caller's
    ``traceparent`` may name the trace but never decides that it is recorded (anyone could
    otherwise have every request of theirs traced); the configured sampler decides, and every
    service behind follows the gateway's decision."""
    name = settings.otel_traces_sampler.removeprefix("parentbased_")
    root: Sampler = ALWAYS_ON
    if name == "always_off":
        root = ALWAYS_OFF
    elif name == "traceidratio":
        root = TraceIdRatioBased(float(settings.otel_traces_sampler_arg or 1.0))
    return ParentBased(root, remote_parent_sampled=root, remote_parent_not_sampled=root)


def tracer_provider_for(
    service: str, settings: ServerProcessSettings, *, edge: bool = False
) -> TracerProvider | None:
    """The service's tracer provider, built on first use; ``None`` when tracing is off.
    ``edge``: the service takes requests from the internet (see ``edge_sampler``)."""
    if service in _state.providers:
        return _state.providers[service]
    if _state.exporter is None and not tracing_configured(settings):
        return None
    resource = Resource.create(
        {
            "service.name": settings.otel_service_name or f"tawny-{service}",
            "service.namespace": "tawny",
        }
    )
    # Elsewhere the sampler comes from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
    # (parent-based, so a trace sampled at the gateway is sampled in every service it reaches).
    provider = TracerProvider(resource=resource, sampler=edge_sampler(settings) if edge else None)
    if _state.exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(_state.exporter))
    else:
        # Imported here: only a process that exports pays for protobuf's import.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # The exporter reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) itself.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        if not _state.providers:
            trace.set_tracer_provider(provider)
    _state.providers[service] = provider
    if not _state.libraries_instrumented:
        # Kafka's, httpx's and aiohttp's instrumentations patch the libraries for the whole
        # process: they use the first service's provider.
        AIOKafkaInstrumentor().instrument(tracer_provider=provider)
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
        AioHttpClientInstrumentor().instrument(tracer_provider=provider)
        _state.libraries_instrumented = True
    return provider


def tracer_for(service: str, settings: ServerProcessSettings) -> Tracer:
    """The tracer the service's own spans (outbox, consumers, sends) start from: a no-op one
    when tracing is off."""
    provider = tracer_provider_for(service, settings)
    if provider is None:
        return trace.NoOpTracer()
    return provider.get_tracer(TRACER_NAME)


def instrument_app(
    app: FastAPI, service: str, settings: ServerProcessSettings, *, edge: bool = False
) -> None:
    """Server spans for the app's requests, continuing a caller's ``traceparent`` (at the
    ``edge``, without letting the caller decide whether the request is traced)."""
    provider = tracer_provider_for(service, settings, edge=edge)
    if provider is not None:
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=provider,
            excluded_urls=EXCLUDED_URLS,
            # ASGI's per-message "http send/receive" spans: noise beside the request's span.
            exclude_spans=["receive", "send"],
        )


def instrument_engine(engine: AsyncEngine, service: str, settings: ServerProcessSettings) -> None:
    """A span per SQL statement the engine runs."""
    provider = tracer_provider_for(service, settings)
    if provider is not None:
        connections = metrics.get_meter(TRACER_NAME).create_up_down_counter(
            "db.client.connections.usage"
        )
        EngineTracer(  # type: ignore[no-untyped-call]
            provider.get_tracer(TRACER_NAME), engine.sync_engine, connections
        )


# --- the context in the envelope ---------------------------------------------------------------


def current_trace_carrier() -> TraceCarrier | None:
    """The current span's W3C context as the envelope carries it, or ``None`` outside a
    recorded trace (tracing off, or a periodic job)."""
    carrier: TraceCarrier = {}
    propagate.inject(carrier)
    return carrier or None


def context_from(carrier: Mapping[str, str] | None) -> Context | None:
    """The context an envelope's ``trace`` names, to continue it; ``None`` starts a new trace."""
    if not carrier:
        return None
    return propagate.extract(dict(carrier))


def link_to(carrier: Mapping[str, str] | None) -> Link | None:
    """A span link to the span an envelope's ``trace`` names, if it names a valid one."""
    context = context_from(carrier)
    if context is None:
        return None
    span_context = trace.get_current_span(context).get_span_context()
    return Link(span_context) if span_context.is_valid else None


@contextmanager
def continued_span(
    tracer: Tracer,
    name: str,
    carrier: Mapping[str, str] | None,
    *,
    kind: SpanKind,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[trace.Span]:
    """A span continuing the trace an envelope carries (publishing or handling the event)."""
    if isinstance(tracer, trace.NoOpTracer):
        # Tracing is off: run on a row's or an event's path, so skip even the no-op span.
        yield trace.INVALID_SPAN
        return
    with tracer.start_as_current_span(
        name, context=context_from(carrier), kind=kind, attributes=attributes
    ) as span:
        yield span


@contextmanager
def batch_span(
    tracer: Tracer,
    name: str,
    carriers: Iterable[Mapping[str, str] | None],
    *,
    parent: Mapping[str, str] | None = None,
    kind: SpanKind = SpanKind.PRODUCER,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[trace.Span]:
    """One span for work done for many messages at once (a send to a batch of recipients),
    linked to the traces those messages came from: one span per batch, not per recipient.
    ``parent`` puts the span inside one of those traces (the alert the batch is of)."""
    if isinstance(tracer, trace.NoOpTracer):
        yield trace.INVALID_SPAN
        return
    links = [link for link in (link_to(carrier) for carrier in carriers) if link is not None]
    with tracer.start_as_current_span(
        name, context=context_from(parent), kind=kind, links=links, attributes=attributes
    ) as span:
        yield span
