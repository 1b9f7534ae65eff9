"""Where members can be reached, and the verification emails that prove an address.

Flushes, never commits: the consumer (or the request) owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.channels.base import Outcome
from services.dispatch.channels.email import EmailChannel
from services.dispatch.errors import ChannelUnavailableError
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind, MemberEndpoint
from shared.events import MemberEmailVerified, VerificationEmailRequested
from shared.logs import get_logger

log = get_logger(__name__)

VERIFICATION_EMAILS = Counter(
    "tawny_dispatch_verification_emails_total",
    "Verification emails handed to the SMTP server, by outcome (deferred ones are retried)",
    ["outcome"],
)


class MemberEndpointService:
    def __init__(self, session: AsyncSession) -> None:
        self._endpoints = MemberEndpointRepository(session)

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

    async def endpoints_of(self, member_id: uuid.UUID) -> Sequence[MemberEndpoint]:
        return await self._endpoints.of_member(member_id)


async def send_verification_email(
    channel: EmailChannel, requested: VerificationEmailRequested, *, event_id: uuid.UUID
) -> None:
    """Email the link. A permanent refusal is logged and not retried (the address will not
    start working); a temporary failure raises, so the consumer tries the event again."""
    result = await channel.send_email(
        channel.verification_message(requested, event_id=event_id), to=requested.email
    )
    VERIFICATION_EMAILS.labels(result.outcome.value).inc()
    if result.outcome is Outcome.DEFERRED:
        log.warning(
            "dispatch.verification_email.deferred",
            member_id=str(requested.member_id),
            detail=result.detail,
        )
        raise ChannelUnavailableError(
            "The verification email could not be handed to the SMTP server.", reason=result.detail
        )
    if result.outcome is Outcome.REJECTED:
        log.warning(
            "dispatch.verification_email.rejected",
            member_id=str(requested.member_id),
            detail=result.detail,
        )
        return
    log.info("dispatch.verification_email.sent", member_id=str(requested.member_id))
