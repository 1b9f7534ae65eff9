"""Where members can be reached, and the verification emails that prove an address.

Flushes, never commits: the consumer (or the request) owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.channels.base import Outcome
from services.dispatch.channels.email import EmailChannel
from services.dispatch.deliveries.repository import DeliveryRepository
from services.dispatch.errors import ChannelUnavailableError
from services.dispatch.letters.repository import LetterRepository
from services.dispatch.members.repository import MemberEndpointRepository, VerifiedEndpoint
from services.dispatch.models import ChannelKind, MemberEndpoint
from services.dispatch.notices.repository import NoticeRepository
from services.dispatch.registrations.repository import RegistrationRepository
from shared.events import MemberEmailVerified, PasswordResetRequested, VerificationEmailRequested
from shared.logs import get_logger

log = get_logger(__name__)

ACCOUNT_EMAILS = Counter(
    "tawny_dispatch_account_emails_total",
    "Emails about a member's account (verification, password reset) handed to the SMTP "
    "server, by kind and outcome (deferred ones are retried)",
    ["kind", "outcome"],
)


class MemberEndpointService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._endpoints = MemberEndpointRepository(session)
        self._registrations = RegistrationRepository(session)

    async def record_verified_email(
        self, verified: MemberEmailVerified, *, verified_at: datetime
    ) -> None:
        changed = await self._endpoints.record_verified(
            member_id=verified.member_id,
            channel=ChannelKind.EMAIL,
            address=verified.email,
            verified_at=verified_at,
        )
        log.info(
            "dispatch.endpoint.recorded" if changed else "dispatch.endpoint.stale_ignored",
            member_id=str(verified.member_id),
            channel=ChannelKind.EMAIL.value,
        )

    async def record_verified_emails(
        self, verified: Sequence[MemberEmailVerified], *, verified_at: datetime
    ) -> int:
        """Bulk import (seeding a population): what ``record_verified_email`` does for each
        ``member.email_verified``, for a batch in set-based statements."""
        recorded = await self._endpoints.record_verified_many(
            [
                VerifiedEndpoint(v.member_id, ChannelKind.EMAIL, v.email, verified_at)
                for v in verified
            ]
        )
        log.info("dispatch.endpoints.imported", channel=ChannelKind.EMAIL.value, count=recorded)
        return recorded

    async def endpoints_of(self, member_id: uuid.UUID) -> Sequence[MemberEndpoint]:
        return await self._endpoints.of_member(member_id)

    async def erase(self, member_id: uuid.UUID) -> int:
        """Forget an erased member: their addresses, a phone number still waiting for its
        code, and every row that names them (deliveries, letters, notices), so that no row of
        dispatch's links their id to what was sent. An alert's delivery totals then count one
        recipient fewer from the next report on."""
        erased = await self._endpoints.delete_for_member(member_id)
        await self._registrations.end_confirmation(member_id)
        deliveries = await DeliveryRepository(self._session).delete_for_member(member_id)
        letters = await LetterRepository(self._session).delete_for_member(member_id)
        notices = await NoticeRepository(self._session).delete_for_member(member_id)
        log.info(
            "dispatch.member.erased",
            member_id=str(member_id),
            endpoints=erased,
            deliveries=deliveries,
            letters=letters,
            notices=notices,
        )
        return erased


async def send_verification_email(
    channel: EmailChannel, requested: VerificationEmailRequested, *, event_id: uuid.UUID
) -> None:
    await _send_account_email(
        channel,
        channel.verification_message(requested, event_id=event_id),
        to=requested.email,
        member_id=requested.member_id,
        kind="verification_email",
    )


async def send_password_reset_email(
    channel: EmailChannel, requested: PasswordResetRequested, *, event_id: uuid.UUID
) -> None:
    await _send_account_email(
        channel,
        channel.password_reset_message(requested, event_id=event_id),
        to=requested.email,
        member_id=requested.member_id,
        kind="password_reset_email",
    )


async def _send_account_email(
    channel: EmailChannel, message: EmailMessage, *, to: str, member_id: uuid.UUID, kind: str
) -> None:
    """Send one email about the member's account (a link to follow). A permanent refusal is
    logged and not retried (the address will not start working); a temporary failure raises,
    so the consumer tries the event again."""
    result = await channel.send_email(message, to=to)
    ACCOUNT_EMAILS.labels(kind, result.outcome.value).inc()
    if result.outcome is Outcome.DEFERRED:
        log.warning(
            "dispatch.account_email.deferred",
            kind=kind,
            member_id=str(member_id),
            detail=result.detail,
        )
        raise ChannelUnavailableError(
            "The email could not be handed to the SMTP server.", reason=result.detail
        )
    if result.outcome is Outcome.REJECTED:
        log.warning(
            "dispatch.account_email.rejected",
            kind=kind,
            member_id=str(member_id),
            detail=result.detail,
        )
        return
    log.info("dispatch.account_email.sent", kind=kind, member_id=str(member_id))
