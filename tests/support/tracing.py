"""Spans collected in memory, for tests that follow a trace (tracing is off otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.tracing import use_exporter


@contextmanager
def collected_spans() -> Iterator[InMemorySpanExporter]:
    """Every service's spans in this process go to the exporter yielded, until the block ends;
    then the process runs untraced again, as the services do by default."""
    exporter = InMemorySpanExporter()
    use_exporter(exporter)
    try:
        yield exporter
    finally:
        use_exporter(None)
