"""The delivery worker's sends join the trace of the alert they send: one span per send to a
group of recipients (never one per recipient), inside the trace of the batch that brought the
alert, which dispatch keeps on the alert's row for whichever worker sends it later."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import SmtpSink
from services.dispatch.channels.email import EmailChannel
from services.dispatch.deliveries.worker import DeliveryWorker, WorkerSettings
from services.dispatch.models import ChannelKind, DeliveryStatus
from shared.settings import ServerProcessSettings
from shared.tracing import tracer_for, use_exporter
from tests.dispatch.deliveries.test_worker import (
    drain_until_final,
    recorded_batch,
)
from tests.dispatch.helpers import unique_email


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    use_exporter(exporter)
    try:
        yield exporter
    finally:
        use_exporter(None)


async def test_a_send_is_one_span_in_the_trace_of_the_batch_that_brought_the_alert(
    quiet_sessions: async_sessionmaker[AsyncSession],
    email_channel: EmailChannel,
    sink: SmtpSink,
    exporter: InMemorySpanExporter,
) -> None:
    tracer = tracer_for("dispatch", ServerProcessSettings())
    addresses = [unique_email() for _ in range(3)]
    # As the consumer records it: inside the span that handles the recipient batch.
    with tracer.start_as_current_span("recipients.batch process", kind=SpanKind.CONSUMER) as span:
        batch, _members = await recorded_batch(quiet_sessions, addresses)
    handling = span.get_span_context()

    worker = DeliveryWorker(
        sessions=quiet_sessions,
        channels={ChannelKind.EMAIL: email_channel},
        settings=WorkerSettings(
            claim_size=50,
            poll_interval_s=0.05,
            max_attempts=4,
            retry_base_delay_s=0.01,
            retry_max_delay_s=0.02,
            sending_timeout_s=60,
            sweep_interval_s=1,
        ),
        tracer=tracer,
    )
    rows = await drain_until_final(worker, quiet_sessions, batch.content.alert_id)

    assert all(row.status is DeliveryStatus.SENT for row in rows.values())
    sends = [s for s in exporter.get_finished_spans() if s.name == "dispatch send email"]
    assert len(sends) == 1
    (send,) = sends
    assert send.context is not None and send.context.trace_id == handling.trace_id
    assert send.parent is not None and send.parent.span_id == handling.span_id
    assert send.attributes is not None
    assert send.attributes["tawny.recipients"] == 3
    assert send.attributes["tawny.alert_id"] == str(batch.content.alert_id)
