"""The delivery worker's sends join the trace of the alert they send: one span per send to a
group of recipients (never one per recipient), inside the trace of the batch that brought the
alert, which dispatch keeps on the alert's row for whichever worker sends it later."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import SmtpSink
from services.dispatch.channels.email import EmailChannel
from services.dispatch.models import DeliveryStatus
from shared.settings import ServerProcessSettings
from shared.tracing import tracer_for
from tests.dispatch.deliveries.test_worker import (
    drain_until_final,
    recorded_batch,
    worker_for,
)
from tests.dispatch.helpers import unique_email
from tests.support.tracing import collected_spans


async def test_a_send_is_one_span_in_the_trace_of_the_batch_that_brought_the_alert(
    quiet_sessions: async_sessionmaker[AsyncSession],
    email_channel: EmailChannel,
    sink: SmtpSink,
) -> None:
    with collected_spans() as exporter:
        tracer = tracer_for("dispatch", ServerProcessSettings())
        addresses = [unique_email() for _ in range(3)]
        # As the consumer records it: inside the span that handles the recipient batch.
        with tracer.start_as_current_span("recipients.batch process", kind=SpanKind.CONSUMER):
            batch, _members = await recorded_batch(quiet_sessions, addresses)
            handling = trace.get_current_span().get_span_context()

        worker = worker_for(quiet_sessions, email_channel, tracer=tracer)
        rows = await drain_until_final(worker, quiet_sessions, batch.content.alert_id)
        spans = exporter.get_finished_spans()

    assert all(row.status is DeliveryStatus.SENT for row in rows.values())
    # Rows other tests left due in the shared database may go out in the same chunks: only
    # this alert's sends count.
    sends = [
        s
        for s in spans
        if s.name == "dispatch send email"
        and s.attributes is not None
        and s.attributes.get("tawny.alert_id") == str(batch.content.alert_id)
    ]
    assert len(sends) == 1
    (send,) = sends
    assert send.context is not None and send.context.trace_id == handling.trace_id
    assert send.parent is not None and send.parent.span_id == handling.span_id
    assert send.attributes is not None
    assert send.attributes["tawny.recipients"] == 3
    assert send.attributes["tawny.alert_id"] == str(batch.content.alert_id)
