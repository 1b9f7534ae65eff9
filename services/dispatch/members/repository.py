"""Every SQL statement about members' endpoints. Flushes, never commits: the caller owns the
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Row, any_, case, delete, func, null, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import (
    SINGLE_DEVICE_KEY,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    DispatchAlert,
    Letter,
    MemberEndpoint,
    MemberExportPart,
    SentNotice,
    uuid_array,
)
from shared.exports import ExportPartRepository

# The most deliveries an export lists (the latest): dispatch keeps them 30 days anyway.
EXPORTED_DELIVERIES_MAX = 1000

# Endpoints per multi-row upsert: four parameters each, well under PostgreSQL's 32,767.
ENDPOINT_CHUNK = 5000


class VerifiedEndpoint(NamedTuple):
    member_id: uuid.UUID
    channel: ChannelKind
    address: str
    verified_at: datetime
    # Which of the member's devices on the channel (``models.device_key``); email and SMS
    # have one.
    device_key: str = SINGLE_DEVICE_KEY


class MemberEndpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_verified(
        self,
        *,
        member_id: uuid.UUID,
        channel: ChannelKind,
        address: str,
        verified_at: datetime,
        device_key: str = SINGLE_DEVICE_KEY,
    ) -> MemberEndpoint | None:
        """Insert the endpoint, or point the member's existing one for the same device (the
        one address, on email and SMS) at ``address``; return it.

        Returns None, changing nothing, when a later verification is already recorded: an
        older event arriving late must not bring back an address the member has replaced."""
        recorded = await self._upsert(
            [VerifiedEndpoint(member_id, channel, address, verified_at, device_key)]
        )
        return recorded[0] if recorded else None

    async def record_verified_many(self, endpoints: Sequence[VerifiedEndpoint]) -> int:
        """``record_verified`` for many endpoints (at most one per member, channel and
        device), in one statement per chunk; returns how many were inserted or changed."""
        recorded = 0
        for start in range(0, len(endpoints), ENDPOINT_CHUNK):
            recorded += len(await self._upsert(endpoints[start : start + ENDPOINT_CHUNK]))
        return recorded

    async def _upsert(self, endpoints: Sequence[VerifiedEndpoint]) -> list[MemberEndpoint]:
        insert_endpoints = insert(MemberEndpoint).values(
            [
                {
                    "id": uuid.uuid4(),
                    "member_id": e.member_id,
                    "channel": e.channel,
                    "device_key": e.device_key,
                    "address": e.address,
                    "verified_at": e.verified_at,
                }
                for e in endpoints
            ]
        )
        new = insert_endpoints.excluded
        statement = (
            insert_endpoints.on_conflict_do_update(
                index_elements=[
                    MemberEndpoint.member_id,
                    MemberEndpoint.channel,
                    MemberEndpoint.device_key,
                ],
                set_={
                    "address": new.address,
                    "verified_at": new.verified_at,
                    # A new address starts afresh; the same address verified again stays as
                    # it was.
                    "disabled_at": case(
                        (MemberEndpoint.address == new.address, MemberEndpoint.disabled_at),
                        else_=null(),
                    ),
                    "updated_at": func.now(),
                },
                where=MemberEndpoint.verified_at <= new.verified_at,
            )
            .returning(MemberEndpoint)
            .execution_options(populate_existing=True)
        )
        return list((await self._session.scalars(statement)).all())

    async def lock_member_channel(self, member_id: uuid.UUID, channel: ChannelKind) -> None:
        """Serialise this transaction's device registrations with the member's others on the
        channel, until it ends: two browsers registering at once then can't both pass the
        count of devices."""
        await self._session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"{member_id}/{channel}", 0)))
        )

    async def device_registered(
        self, *, member_id: uuid.UUID, channel: ChannelKind, device_key: str
    ) -> bool:
        found = await self._session.scalar(
            select(MemberEndpoint.id).where(
                MemberEndpoint.member_id == member_id,
                MemberEndpoint.channel == channel,
                MemberEndpoint.device_key == device_key,
            )
        )
        return found is not None

    async def count_on_channel(self, member_id: uuid.UUID, channel: ChannelKind) -> int:
        count = await self._session.scalar(
            select(func.count()).where(
                MemberEndpoint.member_id == member_id, MemberEndpoint.channel == channel
            )
        )
        return int(count or 0)

    async def disable(self, *, member_id: uuid.UUID, channel: ChannelKind, address: str) -> bool:
        """Stop using the endpoint that has ``address`` (only that device: the member's others
        on the channel keep receiving; and only if it still has it, the member may have
        verified another since the send that failed). Returns whether it changed."""
        result = await self._session.execute(
            update(MemberEndpoint)
            .where(
                MemberEndpoint.member_id == member_id,
                MemberEndpoint.channel == channel,
                MemberEndpoint.address == address,
                MemberEndpoint.disabled_at.is_(None),
            )
            .values(disabled_at=func.now(), updated_at=func.now())
            .returning(MemberEndpoint.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def usable_for(
        self, member_ids: Sequence[uuid.UUID]
    ) -> Sequence[Row[uuid.UUID, uuid.UUID, ChannelKind, str]]:
        """Every enabled endpoint of these members, on every channel, every device, in one
        query (the ids as one array parameter: a worker's chunk has hundreds)."""
        if not member_ids:
            return []
        result = await self._session.execute(
            select(
                MemberEndpoint.id,
                MemberEndpoint.member_id,
                MemberEndpoint.channel,
                MemberEndpoint.address,
            ).where(
                MemberEndpoint.member_id == any_(uuid_array(member_ids)),
                MemberEndpoint.disabled_at.is_(None),
            )
        )
        return result.all()

    async def of_member(self, member_id: uuid.UUID) -> Sequence[MemberEndpoint]:
        return (
            await self._session.scalars(
                select(MemberEndpoint)
                .where(MemberEndpoint.member_id == member_id)
                .order_by(MemberEndpoint.channel, MemberEndpoint.created_at, MemberEndpoint.id)
            )
        ).all()

    async def one_of_member(
        self, member_id: uuid.UUID, channel: ChannelKind
    ) -> MemberEndpoint | None:
        """The member's endpoint on a single-endpoint channel (email, SMS)."""
        return await self._session.scalar(
            select(MemberEndpoint).where(
                MemberEndpoint.member_id == member_id,
                MemberEndpoint.channel == channel,
                MemberEndpoint.device_key == SINGLE_DEVICE_KEY,
            )
        )

    async def delete_on_channel(
        self,
        *,
        member_id: uuid.UUID,
        channel: ChannelKind,
        endpoint_id: uuid.UUID | None = None,
        device_key: str | None = None,
    ) -> int:
        """The member's endpoints on the channel: all of them, or only the one with this id or
        for this device. Returns how many went."""
        statement = delete(MemberEndpoint).where(
            MemberEndpoint.member_id == member_id, MemberEndpoint.channel == channel
        )
        if endpoint_id is not None:
            statement = statement.where(MemberEndpoint.id == endpoint_id)
        if device_key is not None:
            statement = statement.where(MemberEndpoint.device_key == device_key)
        result = await self._session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def delete_for_member(self, member_id: uuid.UUID) -> int:
        result = await self._session.execute(
            delete(MemberEndpoint).where(MemberEndpoint.member_id == member_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class MemberExportRepository:
    """What dispatch holds about one member, for their export."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.parts = ExportPartRepository(session, MemberExportPart)

    async def deliveries_of(
        self, member_id: uuid.UUID
    ) -> Sequence[
        Row[uuid.UUID, str | None, ChannelKind, DeliveryStatus, datetime | None, datetime | None]
    ]:
        result = await self._session.execute(
            select(
                Delivery.alert_id,
                DispatchAlert.content["headline"].astext,
                Delivery.channel,
                Delivery.status,
                Delivery.sent_at,
                Delivery.delivered_at,
            )
            .outerjoin(DispatchAlert, DispatchAlert.alert_id == Delivery.alert_id)
            .where(Delivery.member_id == member_id)
            .order_by(Delivery.created_at.desc())
            .limit(EXPORTED_DELIVERIES_MAX)
        )
        return result.all()

    async def letters_of(self, member_id: uuid.UUID) -> Sequence[Letter]:
        return (
            await self._session.scalars(
                select(Letter).where(Letter.member_id == member_id).order_by(Letter.created_at)
            )
        ).all()

    async def notices_of(self, member_id: uuid.UUID) -> Sequence[SentNotice]:
        return (
            await self._session.scalars(
                select(SentNotice)
                .where(SentNotice.member_id == member_id)
                .order_by(SentNotice.sent_at)
            )
        ).all()
