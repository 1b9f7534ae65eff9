"""Account emails through the recorded path: recorded once per event, sent by the sender on a
database no running app works on (to the real SMTP sink), retried after a temporary failure,
resumed after their sender died, and never sent twice."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.smtp import Fault, SmtpSink
from services.dispatch.account_emails.repository import AccountEmailRepository
from services.dispatch.account_emails.service import (
    AccountEmailSender,
    AccountEmailService,
    AccountEmailSettings,
)
from services.dispatch.channels.email import EmailChannel
from services.dispatch.deliveries.repository import Lease
from services.dispatch.models import AccountEmail, DeliveryStatus
from shared.db import session_scope, utcnow
from shared.events import PasswordResetRequested
from tests.dispatch.helpers import eventually, unique_email, verification_requested


def sender_for(
    sessions: async_sessionmaker[AsyncSession], email: EmailChannel
) -> AccountEmailSender:
    return AccountEmailSender(
        sessions=sessions,
        email=email,
        lease=Lease.for_this_process(60),
        settings=AccountEmailSettings(
            claim_size=50, max_attempts=3, retry_base_delay_s=60, retry_max_delay_s=60
        ),
    )


async def row_of(sessions: async_sessionmaker[AsyncSession], event_id: uuid.UUID) -> AccountEmail:
    async with sessions() as session:
        row = await session.get(AccountEmail, event_id)
        assert row is not None
        return row


async def send_whatever_is_due(sender: AccountEmailSender) -> None:
    while await sender.run_once():
        pass


class TestAccountEmails:
    async def test_an_event_is_recorded_once_and_its_email_sent_once(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        requested = verification_requested(unique_email("verify"))
        event_id = uuid.uuid4()
        async with session_scope(quiet_sessions) as session:
            assert await AccountEmailService(session).request_verification(
                requested, event_id=event_id
            )
            # The same event again (a redelivery): nothing new.
            assert not await AccountEmailService(session).request_verification(
                requested, event_id=event_id
            )
        sender = sender_for(quiet_sessions, email_channel)

        await send_whatever_is_due(sender)
        await send_whatever_is_due(sender)

        [message] = sink.messages_to(requested.email)
        assert requested.verify_url in message.text
        assert message.headers["Message-ID"].startswith(f"<verify-{event_id}@")
        row = await row_of(quiet_sessions, event_id)
        assert row.status is DeliveryStatus.SENT and row.sent_at is not None
        # The link was a secret: not kept once sent.
        assert row.payload is None

    async def test_a_temporary_failure_is_retried_later_not_lost(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        address = unique_email("reset")
        requested = PasswordResetRequested(
            member_id=uuid.uuid4(),
            email=address,
            pseudonym="Tawny Owl 42",
            reset_url=f"https://tawny.example/reset-password#{uuid.uuid4().hex}",
        )
        event_id = uuid.uuid4()
        async with session_scope(quiet_sessions) as session:
            await AccountEmailService(session).request_password_reset(requested, event_id=event_id)
        sender = sender_for(quiet_sessions, email_channel)
        sink.add_fault(Fault(address=address, reply="451 4.7.1 Try again later", times=1))

        await send_whatever_is_due(sender)

        row = await row_of(quiet_sessions, event_id)
        assert (row.status, row.attempts) == (DeliveryStatus.CREATED, 1)
        assert row.next_attempt_at > utcnow() and row.payload is not None
        assert sink.messages_to(address) == []

        # Its retry comes due (made due now rather than waited for).
        async with session_scope(quiet_sessions) as session:
            await session.execute(
                update(AccountEmail)
                .where(AccountEmail.event_id == event_id)
                .values(next_attempt_at=utcnow())
            )
        await send_whatever_is_due(sender)

        row = await row_of(quiet_sessions, event_id)
        assert (row.status, row.attempts) == (DeliveryStatus.SENT, 2)
        [message] = sink.messages_to(address)
        assert requested.reset_url in message.text

    async def test_an_email_whose_sender_died_is_sent_by_another(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        email_channel: EmailChannel,
        sink: SmtpSink,
    ) -> None:
        requested = verification_requested(unique_email("orphan"))
        event_id = uuid.uuid4()
        async with session_scope(quiet_sessions) as session:
            await AccountEmailService(session).request_verification(requested, event_id=event_id)
            # A sender claims it and dies before sending: its lease lapses unrenewed.
            await AccountEmailRepository(session).claim(
                limit=1000, lease=Lease(holder="died", duration_s=0.2)
            )

        async def lapsed_and_resent() -> bool:
            await sender_for(quiet_sessions, email_channel).run_once()
            return (await row_of(quiet_sessions, event_id)).status is DeliveryStatus.SENT

        await eventually(lapsed_and_resent)
        assert len(sink.messages_to(requested.email)) == 1
