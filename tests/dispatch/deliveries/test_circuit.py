"""A provider failing for everyone is not a bad address: its deliveries stay due with backoff,
their attempts are given back, and nothing is marked failed; a refusal amid acceptances stays a
refusal of that address (issue 15, item 2)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.infra import free_port
from deploy.sinks.smtp import Fault, SmtpSink
from services.dispatch.channels.base import Recipient
from services.dispatch.channels.circuit import FIRST_BACKOFF_S, ProviderCircuit
from services.dispatch.channels.email import EmailChannel, SmtpServer
from services.dispatch.deliveries.worker import DeliveryWorker
from services.dispatch.models import Delivery, DeliveryStatus
from shared.db import session_scope, utcnow
from tests.dispatch.deliveries.test_worker import (
    drain_until_final,
    recorded_batch,
    rows_of,
    worker_for,
)
from tests.dispatch.helpers import alert_content, unique_email

RECIPIENTS = 10


async def make_due(sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID) -> None:
    async with session_scope(sessions) as session:
        await session.execute(
            update(Delivery).where(Delivery.alert_id == alert_id).values(next_attempt_at=utcnow())
        )


async def rounds(
    worker: DeliveryWorker,
    sessions: async_sessionmaker[AsyncSession],
    alert_id: uuid.UUID,
    count: int,
) -> dict[uuid.UUID, Delivery]:
    """``count`` claims of every row, each made due at once (not waiting out the backoff)."""
    for _ in range(count):
        await make_due(sessions, alert_id)
        await worker.run_once()
    return await rows_of(sessions, alert_id)


class TestProviderOutage:
    async def test_a_relay_refusing_everyone_fails_no_delivery_and_all_arrive_once_it_recovers(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        addresses = [unique_email("outage") for _ in range(RECIPIENTS)]
        batch, members = await recorded_batch(quiet_sessions, addresses)
        alert_id = batch.content.alert_id
        sink.add_fault(Fault(reply="554 5.3.0 Relay out of order"))
        try:
            # More claims than max_attempts: an outage must not use the attempts up.
            rows = await rounds(
                worker_for(quiet_sessions, email_channel, max_attempts=2), quiet_sessions,
                alert_id, 4,
            )  # fmt: skip
        finally:
            sink.clear_faults()

        assert {row.status for row in rows.values()} == {DeliveryStatus.CREATED}
        assert {row.attempts for row in rows.values()} == {0}
        assert all("failing for everyone" in (row.last_error or "") for row in rows.values())
        assert all(row.next_attempt_at > utcnow() for row in rows.values())

        await make_due(quiet_sessions, alert_id)
        rows = await drain_until_final(
            worker_for(quiet_sessions, email_channel, max_attempts=2), quiet_sessions, alert_id
        )
        assert {row.status for row in rows.values()} == {DeliveryStatus.SENT}
        assert [len(sink.messages_to(address)) for address in addresses] == [1] * RECIPIENTS
        assert set(rows) == set(members)

    async def test_connections_refused_use_no_attempts(
        self, quiet_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        nobody_listens = EmailChannel(
            SmtpServer(host="127.0.0.1", port=free_port(), starttls=False, timeout_s=2),
            email_from="Tawny alerts <alerts@tawny.london>",
            concurrency=4,
        )
        batch, _members = await recorded_batch(
            quiet_sessions, [unique_email("refused") for _ in range(RECIPIENTS)]
        )

        rows = await rounds(
            worker_for(quiet_sessions, nobody_listens, max_attempts=2), quiet_sessions,
            batch.content.alert_id, 4,
        )  # fmt: skip

        assert {row.status for row in rows.values()} == {DeliveryStatus.CREATED}
        assert {row.attempts for row in rows.values()} == {0}

    async def test_one_address_refused_while_the_others_are_accepted_fails_alone(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        refused = unique_email("policy")
        sink.reject(refused, "554 5.7.1 Message refused")
        addresses = [refused, *(unique_email() for _ in range(RECIPIENTS - 1))]
        batch, members = await recorded_batch(quiet_sessions, addresses)

        rows = await drain_until_final(
            worker_for(quiet_sessions, email_channel), quiet_sessions, batch.content.alert_id
        )

        statuses: dict[str, Any] = {
            a: rows[m].status for a, m in zip(addresses, members, strict=True)
        }
        assert statuses.pop(refused) is DeliveryStatus.FAILED
        assert set(statuses.values()) == {DeliveryStatus.SENT}
        # Held once (an outage's first refusals look the same), final when refused again
        # while the others were accepted.
        assert rows[members[0]].attempts == 2

    async def test_refusals_in_slices_too_small_to_show_the_outage_are_not_final(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        # Slices of two: the first ones end before the run of refusals is long enough to be
        # called an outage (the chaos suite lost 3 of 60 recipients this way).
        addresses = [unique_email("small-slices") for _ in range(RECIPIENTS)]
        batch, members = await recorded_batch(quiet_sessions, addresses)
        alert_id = batch.content.alert_id
        sink.add_fault(Fault(reply="554 5.3.0 Relay out of order"))
        try:
            rows = await rounds(
                worker_for(quiet_sessions, email_channel, record_slice=2), quiet_sessions,
                alert_id, 3,
            )  # fmt: skip
        finally:
            sink.clear_faults()

        assert {row.status for row in rows.values()} == {DeliveryStatus.CREATED}

        await make_due(quiet_sessions, alert_id)
        rows = await drain_until_final(
            worker_for(quiet_sessions, email_channel, record_slice=2), quiet_sessions, alert_id
        )
        assert {row.status for row in rows.values()} == {DeliveryStatus.SENT}
        assert [len(sink.messages_to(address)) for address in addresses] == [1] * RECIPIENTS
        assert set(rows) == set(members)

    async def test_a_refusal_nothing_confirms_is_retried_until_the_attempts_run_out(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        address = unique_email("lone-refusal")
        sink.reject(address, "554 5.7.1 Message refused")
        batch, [member_id] = await recorded_batch(quiet_sessions, [address])
        worker = worker_for(quiet_sessions, email_channel, max_attempts=3)

        rows = await rounds(worker, quiet_sessions, batch.content.alert_id, 2)
        # Refused twice, and the provider accepted nothing else meanwhile: not yet its own.
        assert rows[member_id].status is DeliveryStatus.CREATED
        assert (rows[member_id].last_error or "").startswith("refused, to be confirmed")

        rows = await rounds(worker, quiet_sessions, batch.content.alert_id, 1)
        assert rows[member_id].status is DeliveryStatus.FAILED
        assert (rows[member_id].last_error or "").startswith("gave up after 3 attempts")

    async def test_a_slow_provider_is_not_an_outage(
        self, quiet_sessions: async_sessionmaker[AsyncSession], sink: SmtpSink
    ) -> None:
        impatient = EmailChannel(
            SmtpServer(host="127.0.0.1", port=sink.smtp_port, starttls=False, timeout_s=0.3),
            email_from="Tawny alerts <alerts@tawny.london>",
            concurrency=RECIPIENTS,
        )
        batch, _members = await recorded_batch(
            quiet_sessions, [unique_email("slow") for _ in range(RECIPIENTS)]
        )
        sink.add_fault(Fault(delay_s=1))
        try:
            rows = await rounds(
                worker_for(quiet_sessions, impatient), quiet_sessions, batch.content.alert_id, 1
            )
        finally:
            sink.clear_faults()
            await impatient.close()

        # Timeouts are ordinary retries: they count, and the circuit stays shut.
        assert {row.status for row in rows.values()} == {DeliveryStatus.CREATED}
        assert {row.attempts for row in rows.values()} == {1}
        assert not any("failing for everyone" in (row.last_error or "") for row in rows.values())


class TestConcurrentSends:
    async def test_slices_under_way_when_the_circuit_opens_count_as_one_outage(
        self, email_channel: EmailChannel, sink: SmtpSink
    ) -> None:
        circuit = ProviderCircuit(email_channel)
        slices = [
            [Recipient(uuid.uuid4(), uuid.uuid4(), unique_email("slice")) for _ in range(6)]
            for _ in range(4)
        ]
        sink.add_fault(Fault(reply="554 5.3.0 Relay out of order"))
        try:
            outcomes = await asyncio.gather(
                *(circuit.send_alert(alert_content(), part) for part in slices)
            )
        finally:
            sink.clear_faults()

        results = [result for outcome in outcomes for result in outcome.values()]
        assert all(result.provider_outage for result in results)
        # One outage: the first backoff for every slice, not one doubling per slice.
        assert max(result.retry_after_s or 0 for result in results) <= FIRST_BACKOFF_S
