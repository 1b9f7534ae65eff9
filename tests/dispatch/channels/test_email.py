"""The email channel: what it renders, and how it hands messages to a real SMTP server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from deploy.infra import free_port
from deploy.sinks.smtp import SmtpSink
from services.dispatch.channels.base import Outcome, Recipient
from services.dispatch.channels.email import SEND_BUDGET_S, EmailChannel, SmtpServer
from services.dispatch.channels.ratelimit import TokenBucket
from services.dispatch.config import MAX_SMTP_TIMEOUT_S, RECORDING_MARGIN_S, DispatchSettings
from services.dispatch.rendering.email import alert_subject
from tests.dispatch.helpers import alert_content, unique_email, verification_requested


def recipients(count: int) -> list[Recipient]:
    return [Recipient(uuid.uuid4(), uuid.uuid4(), unique_email()) for _ in range(count)]


def channel_for(port: int, **options: Any) -> EmailChannel:
    return EmailChannel(
        SmtpServer(host="127.0.0.1", port=port, starttls=False, timeout_s=5),
        email_from="Tawny alerts <alerts@tawny.london>",
        concurrency=options.pop("concurrency", 4),
        **options,
    )


class TestEmailChannel:
    async def test_sends_each_recipient_one_message_over_a_few_reused_connections(
        self, sink: SmtpSink
    ) -> None:
        channel = channel_for(sink.smtp_port, concurrency=3)
        content = alert_content()
        to = recipients(12)

        results = await channel.send_alert(content, to)

        assert {result.outcome for result in results.values()} == {Outcome.ACCEPTED}
        assert set(results) == {recipient.delivery_id for recipient in to}
        received = [m for r in to for m in sink.messages_to(r.address)]
        assert len(received) == 12
        assert all(m.subject == alert_subject(content) for m in received)
        # At most `concurrency` connections, each carrying several messages.
        assert len({m.peer for m in received}) <= 3
        message = sink.messages_to(to[0].address)[0]
        assert message.headers["Message-ID"] == f"<{to[0].delivery_id}@tawny.london>"
        assert message.headers["X-Tawny-Alert-Id"] == str(content.alert_id)
        assert message.html is not None and content.headline in message.html

    async def test_a_non_ascii_headline_arrives_intact(self, sink: SmtpSink) -> None:
        headline = "Vol à l'arraché près de la gare — soyez prudents ✋"
        [recipient] = recipients(1)

        await channel_for(sink.smtp_port).send_alert(alert_content(headline=headline), [recipient])

        [message] = sink.messages_to(recipient.address)
        assert message.subject.endswith(f": {headline}")

    async def test_a_5xx_refusal_is_rejected_and_a_4xx_deferred(self, sink: SmtpSink) -> None:
        refused, greylisted, fine = recipients(3)
        sink.reject(refused.address, "550 5.1.1 No such mailbox")
        sink.reject(greylisted.address, "451 4.7.1 Greylisted, try again later")

        results = await channel_for(sink.smtp_port, concurrency=1).send_alert(
            alert_content(), [refused, greylisted, fine]
        )

        assert results[refused.delivery_id].outcome is Outcome.REJECTED
        assert results[refused.delivery_id].detail == "550 5.1.1 No such mailbox"
        assert results[greylisted.delivery_id].outcome is Outcome.DEFERRED
        assert results[greylisted.delivery_id].detail.startswith("451 4.7.1")
        # The refusals left the shared connection usable for the message after them.
        assert results[fine.delivery_id].outcome is Outcome.ACCEPTED

    async def test_an_unreachable_server_defers_every_message(self) -> None:
        to = recipients(3)

        results = await channel_for(free_port()).send_alert(alert_content(), to)

        assert [results[r.delivery_id].outcome for r in to] == [Outcome.DEFERRED] * 3
        assert all("cannot use the SMTP server" in r.detail for r in results.values())

    async def test_attempts_nothing_once_the_batch_is_out_of_time(self, sink: SmtpSink) -> None:
        to = recipients(2)

        results = await channel_for(sink.smtp_port, send_budget_s=0).send_alert(alert_content(), to)

        assert all(r.outcome is Outcome.DEFERRED and not r.attempted for r in results.values())
        assert all(sink.messages_to(r.address) == [] for r in to)

    async def test_a_session_the_server_ends_is_replaced_and_nothing_is_lost(
        self, strict_server: StrictServer
    ) -> None:
        to = recipients(5)

        results = await channel_for(strict_server.port, concurrency=1).send_alert(
            alert_content(), to
        )

        assert {result.outcome for result in results.values()} == {Outcome.ACCEPTED}
        assert sorted(strict_server.accepted) == sorted(r.address for r in to)
        assert strict_server.sessions >= 3

    async def test_a_rate_limit_spaces_the_sends(self, sink: SmtpSink) -> None:
        channel = channel_for(sink.smtp_port, rate_limit=TokenBucket(rate_per_s=20, burst=1))
        loop = asyncio.get_running_loop()

        started = loop.time()
        results = await channel.send_alert(alert_content(), recipients(5))

        assert {result.outcome for result in results.values()} == {Outcome.ACCEPTED}
        assert loop.time() - started >= 0.19

    async def test_a_mailbox_that_does_not_exist_is_marked_invalid(self, sink: SmtpSink) -> None:
        gone, bare_550, full, policy = recipients(4)
        sink.reject(gone.address, "550 5.1.1 No such mailbox")
        sink.reject(bare_550.address, "550 Unknown user")
        sink.reject(full.address, "552 5.2.2 Mailbox full")
        sink.reject(policy.address, "550 5.7.1 Relaying denied")

        results = await channel_for(sink.smtp_port).send_alert(
            alert_content(), [gone, bare_550, full, policy]
        )

        assert {result.outcome for result in results.values()} == {Outcome.REJECTED}
        assert results[gone.delivery_id].address_invalid
        assert results[bare_550.delivery_id].address_invalid
        assert not results[full.delivery_id].address_invalid
        assert not results[policy.delivery_id].address_invalid

    async def test_sends_the_verification_email_with_the_link(self, sink: SmtpSink) -> None:
        requested = verification_requested(unique_email())
        channel = channel_for(sink.smtp_port)

        result = await channel.send_email(
            channel.verification_message(requested, event_id=uuid.uuid4()), to=requested.email
        )

        assert result.outcome is Outcome.ACCEPTED
        [message] = sink.messages_to(requested.email)
        assert message.subject == "Confirm your email address for Tawny"
        assert requested.verify_url in message.text
        assert message.html is not None and f'href="{requested.verify_url}"' in message.html


def test_the_default_sweeper_timeout_outlasts_the_slowest_chunk() -> None:
    # The last send may start just before the budget ends and take the longest timeout; only
    # then may the sweeper take the chunk's rows back.
    defaults = DispatchSettings()
    assert defaults.sending_timeout_s > SEND_BUDGET_S + MAX_SMTP_TIMEOUT_S + RECORDING_MARGIN_S


class StrictServer:
    """An SMTP server that ends each session with 421 after two messages, as some relays do."""

    MESSAGES_PER_SESSION = 2

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.sessions = 0
        self.port = 0

    async def handle_EHLO(  # noqa: N802 (aiosmtpd's hook names)
        self, server: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        session.messages = 0
        return responses

    async def handle_MAIL(  # noqa: N802
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if session.messages >= self.MESSAGES_PER_SESSION:
            return "421 4.7.0 Too many messages in this session"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Any, envelope: Any
    ) -> str:
        session.messages += 1
        self.accepted.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
async def strict_server() -> AsyncIterator[StrictServer]:
    handler = StrictServer()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="strict.test", loop=loop), "127.0.0.1", 0
    )
    handler.port = server.sockets[0].getsockname()[1]
    try:
        yield handler
    finally:
        server.close()
