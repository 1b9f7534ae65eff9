"""Where members can be reached (the emails that prove an address are
:mod:`services.dispatch.account_emails`).

Flushes, never commits: the consumer (or the request) owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.account_emails.repository import AccountEmailRepository
from services.dispatch.deliveries.repository import DeliveryRepository
from services.dispatch.letters.repository import LetterRepository
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind, MemberEndpoint
from services.dispatch.notices.repository import NoticeRepository
from services.dispatch.registrations.repository import RegistrationRepository
from shared.events import MemberEmailVerified
from shared.logs import get_logger

log = get_logger(__name__)


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

    async def endpoints_of(self, member_id: uuid.UUID) -> Sequence[MemberEndpoint]:
        return await self._endpoints.of_member(member_id)

    async def erase(self, member_id: uuid.UUID) -> int:
        """Forget an erased member: their addresses, a phone number still waiting for its
        code, and every row that names them (deliveries, letters, notices, account emails), so
        that no row of dispatch's links their id to what was sent. An alert's delivery totals
        then count one recipient fewer from the next report on."""
        erased = await self._endpoints.delete_for_member(member_id)
        await self._registrations.end_confirmation(member_id)
        deliveries = await DeliveryRepository(self._session).delete_for_member(member_id)
        letters = await LetterRepository(self._session).delete_for_member(member_id)
        notices = await NoticeRepository(self._session).delete_for_member(member_id)
        account_emails = await AccountEmailRepository(self._session).delete_for_member(member_id)
        log.info(
            "dispatch.member.erased",
            member_id=str(member_id),
            endpoints=erased,
            deliveries=deliveries,
            letters=letters,
            notices=notices,
            account_emails=account_emails,
        )
        return erased
