"""The ``dispatch.members`` consumer: identity's member events, each in one transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.account_emails.service import AccountEmailService
from services.dispatch.channels.email import EmailChannel
from services.dispatch.deliveries.consumers import wake_after_commit
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.members.service import MemberEndpointService, MemberLifecycleService
from services.dispatch.notices.service import send_notice
from shared.events import (
    EventEnvelope,
    MemberEmailVerified,
    MemberNoticeRequested,
    PasswordResetRequested,
    Topic,
    VerificationEmailRequested,
)
from shared.members import lifecycle_handlers
from shared.runtime import ConsumerSpec

GROUP_ID = "dispatch.members"


def member_events_consumer(
    email: EmailChannel,
    *,
    wake_workers: Callable[[], None] | None = None,
    wake_account_emails: Callable[[], None] | None = None,
) -> ConsumerSpec:
    # Account emails are only recorded here, and sent once this transaction committed.
    async def on_verification_email_requested(
        session: AsyncSession, envelope: EventEnvelope, payload: VerificationEmailRequested
    ) -> None:
        if await AccountEmailService(session).request_verification(
            payload, event_id=envelope.event_id
        ):
            wake_after_commit(session, wake_account_emails)

    async def on_password_reset_requested(
        session: AsyncSession, envelope: EventEnvelope, payload: PasswordResetRequested
    ) -> None:
        if await AccountEmailService(session).request_password_reset(
            payload, event_id=envelope.event_id
        ):
            wake_after_commit(session, wake_account_emails)

    async def on_member_notice_requested(
        session: AsyncSession, envelope: EventEnvelope, payload: MemberNoticeRequested
    ) -> None:
        await send_notice(session, email, payload)

    async def on_member_email_verified(
        session: AsyncSession, envelope: EventEnvelope, payload: MemberEmailVerified
    ) -> None:
        # The event's own time orders verifications, however late one arrives.
        await MemberEndpointService(session).record_verified_email(
            payload, verified_at=envelope.occurred_at
        )
        # Alerts that came before the member could be reached: delivered now, unless expired.
        if await DeliveryService(session).release_pending_for(payload.member_id):
            wake_after_commit(session, wake_workers)

    return ConsumerSpec(
        group_id=GROUP_ID,
        topics=(Topic.MEMBERS.value,),
        handlers={
            VerificationEmailRequested: on_verification_email_requested,
            MemberEmailVerified: on_member_email_verified,
            PasswordResetRequested: on_password_reset_requested,
            MemberNoticeRequested: on_member_notice_requested,
            # Erasure, suspension, reinstatement and export requests.
            **lifecycle_handlers(MemberLifecycleService),
        },
    )
