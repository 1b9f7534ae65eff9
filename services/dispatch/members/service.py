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
from services.dispatch.errors import TooManyDevicesError
from services.dispatch.letters.repository import LetterRepository
from services.dispatch.members.repository import (
    MemberEndpointRepository,
    MemberExportRepository,
    VerifiedEndpoint,
)
from services.dispatch.members.schemas import (
    DispatchExport,
    Endpoint,
    ExportedDelivery,
    ExportedEndpoint,
    ExportedLetter,
    ExportedNotice,
)
from services.dispatch.models import ChannelKind, MemberEndpoint, SuspendedMember, device_key
from services.dispatch.notices.repository import NoticeRepository
from services.dispatch.preferences.schemas import PreferencesDocument
from services.dispatch.preferences.service import PreferencesService
from services.dispatch.registrations.repository import RegistrationRepository
from shared.db import utcnow
from shared.events import MemberEmailVerified
from shared.exports import ExportPart
from shared.logs import get_logger
from shared.members import SuspensionRepository

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

    async def register_device(
        self,
        member_id: uuid.UUID,
        channel: ChannelKind,
        *,
        identity: str,
        address: str,
        limit: int,
    ) -> MemberEndpoint:
        """Record one browser's subscription or one app installation's token as an endpoint of
        its own, beside the member's other devices on the channel. The same device registered
        again (``identity``: its subscription's endpoint URL, its token) updates its endpoint,
        so a client may register on every start. A new device past ``limit`` is refused."""
        key = device_key(channel, identity)
        await self._endpoints.lock_member_channel(member_id, channel)
        if not await self._endpoints.device_registered(
            member_id=member_id, channel=channel, device_key=key
        ) and (await self._endpoints.count_on_channel(member_id, channel) >= limit):
            raise TooManyDevicesError(
                f"At most {limit} devices can receive alerts by {channel.value}; remove one "
                "first (DELETE /endpoints/me/{channel}/{id}).",
                limit=limit,
            )
        endpoint = await self._endpoints.record_verified(
            member_id=member_id,
            channel=channel,
            address=address,
            verified_at=utcnow(),
            device_key=key,
        )
        # Never None: nothing records a device's endpoint with a later verification time.
        assert endpoint is not None
        log.info(
            "dispatch.endpoint.recorded",
            member_id=str(member_id),
            channel=channel.value,
            endpoint_id=str(endpoint.id),
        )
        return endpoint

    async def endpoints_of(self, member_id: uuid.UUID) -> Sequence[MemberEndpoint]:
        return await self._endpoints.of_member(member_id)

    async def remove(
        self,
        member_id: uuid.UUID,
        channel: ChannelKind,
        *,
        endpoint_id: uuid.UUID | None = None,
        identity: str | None = None,
    ) -> int:
        """Stop using the member's endpoints on the channel: the one with ``endpoint_id``, the
        device ``identity`` names, or (neither given) all of them. Returns how many went."""
        removed = await self._endpoints.delete_on_channel(
            member_id=member_id,
            channel=channel,
            endpoint_id=endpoint_id,
            device_key=None if identity is None else device_key(channel, identity),
        )
        if channel is ChannelKind.SMS:
            # And a number still waiting for its code.
            await self._registrations.end_confirmation(member_id)
        if removed:
            log.info(
                "dispatch.endpoint.removed",
                member_id=str(member_id),
                channel=channel.value,
                endpoint_id=None if endpoint_id is None else str(endpoint_id),
                count=removed,
            )
        return removed

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
        await SuspensionRepository(self._session, SuspendedMember).reinstate(member_id)
        await MemberExportRepository(self._session).parts.delete_for_member(member_id)
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


class MemberSuspensionService:
    """A suspended member receives nothing: what waits to be sent to them is given up, and
    recipient batches record nothing for them (``DeliveryService.record_batch``) until they
    are reinstated, from when alerts reach them again."""

    def __init__(self, session: AsyncSession) -> None:
        self._suspensions = SuspensionRepository(session, SuspendedMember)
        self._deliveries = DeliveryRepository(session)

    async def suspend(self, member_id: uuid.UUID, *, at: datetime) -> None:
        await self._suspensions.suspend(member_id, at=at)
        given_up = await self._deliveries.give_up_unsent_for_member(
            member_id, reason="the member was suspended"
        )
        log.info("dispatch.member.suspended", member_id=str(member_id), given_up=given_up)

    async def reinstate(self, member_id: uuid.UUID) -> None:
        await self._suspensions.reinstate(member_id)
        log.info("dispatch.member.reinstated", member_id=str(member_id))

    async def suspended_among(self, member_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return await self._suspensions.suspended_among(member_ids)


class MemberExportService:
    """Dispatch's part of a member's export, collected on ``member.export_requested`` and kept
    for the member to download (``shared.exports``)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._exports = MemberExportRepository(session)
        self._suspensions = SuspensionRepository(session, SuspendedMember)

    async def collect(self, member_id: uuid.UUID, export_id: uuid.UUID) -> None:
        data = DispatchExport(
            endpoints=[
                ExportedEndpoint.model_validate(Endpoint.from_model(endpoint).model_dump())
                for endpoint in await MemberEndpointRepository(self._session).of_member(member_id)
            ],
            preferences=PreferencesDocument.from_preferences(
                await PreferencesService(self._session).of_member(member_id)
            ),
            deliveries=[
                ExportedDelivery(
                    alert_id=alert_id,
                    headline=headline,
                    channel=channel,
                    status=status.value,
                    sent_at=sent_at,
                    delivered_at=delivered_at,
                )
                for alert_id, headline, channel, status, sent_at, delivered_at in (
                    await self._exports.deliveries_of(member_id)
                )
            ],
            letters=[
                ExportedLetter(
                    letter_id=letter.letter_id,
                    status=letter.status.value,
                    sent_at=letter.sent_at,
                    delivered_at=letter.delivered_at,
                )
                for letter in await self._exports.letters_of(member_id)
            ],
            notices=[
                ExportedNotice(kind=notice.kind, sent_at=notice.sent_at)
                for notice in await self._exports.notices_of(member_id)
            ],
            suspended_at=await self._suspensions.suspended_at(member_id),
        )
        await self._exports.parts.save(export_id=export_id, member_id=member_id, data=data)
        log.info("dispatch.member.export_collected", member_id=str(member_id))

    async def part(
        self, member_id: uuid.UUID, export_id: uuid.UUID
    ) -> ExportPart[DispatchExport] | None:
        part = await self._exports.parts.of_member(export_id, member_id)
        if part is None:
            return None
        return ExportPart[DispatchExport](
            service="dispatch",
            export_id=part.export_id,
            generated_at=part.generated_at,
            data=DispatchExport.model_validate(part.data),
        )


class MemberLifecycleService:
    """Identity's lifecycle events as dispatch handles them (``shared.members``)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def erase(self, member_id: uuid.UUID, *, keep_reply_text: bool = False) -> None:
        """Dispatch holds no replies: ``keep_reply_text`` changes nothing here."""
        await MemberEndpointService(self._session).erase(member_id)
        await PreferencesService(self._session).erase(member_id)

    async def suspend(self, member_id: uuid.UUID, *, at: datetime) -> None:
        await MemberSuspensionService(self._session).suspend(member_id, at=at)

    async def reinstate(self, member_id: uuid.UUID) -> None:
        await MemberSuspensionService(self._session).reinstate(member_id)

    async def collect_export(self, member_id: uuid.UUID, export_id: uuid.UUID) -> None:
        await MemberExportService(self._session).collect(member_id, export_id)
