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


class MemberEndpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_verified(
        self, *, member_id: uuid.UUID, channel: ChannelKind, address: str, verified_at: datetime
    ) -> bool:
        """Insert the endpoint, or point the member's existing one at ``address``.

        Returns False, changing nothing, when a later verification is already recorded: an
        older event arriving late must not bring back an address the member has replaced."""
        recorded = await self.record_verified_many(
            [VerifiedEndpoint(member_id, channel, address, verified_at)]
        )
        return recorded == 1

    async def record_verified_many(self, endpoints: Sequence[VerifiedEndpoint]) -> int:
        """``record_verified`` for many endpoints (at most one per member and channel), in one
        statement per chunk; returns how many were inserted or changed."""
        recorded = 0
        for start in range(0, len(endpoints), ENDPOINT_CHUNK):
            insert_endpoints = insert(MemberEndpoint).values(
                [
                    {
                        "member_id": e.member_id,
                        "channel": e.channel,
                        "address": e.address,
                        "verified_at": e.verified_at,
                    }
                    for e in endpoints[start : start + ENDPOINT_CHUNK]
                ]
            )
            new = insert_endpoints.excluded
            statement = insert_endpoints.on_conflict_do_update(
                index_elements=[MemberEndpoint.member_id, MemberEndpoint.channel],
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
            ).returning(MemberEndpoint.member_id)
            recorded += len((await self._session.scalars(statement)).all())
        return recorded

    async def disable(self, *, member_id: uuid.UUID, channel: ChannelKind, address: str) -> bool:
        """Stop using the endpoint, if it still has ``address`` (the member may have verified
        another since the send that failed). Returns whether it changed."""
        result = await self._session.execute(
            update(MemberEndpoint)
            .where(
                MemberEndpoint.member_id == member_id,
                MemberEndpoint.channel == channel,
                MemberEndpoint.address == address,
                MemberEndpoint.disabled_at.is_(None),
            )
            .values(disabled_at=func.now(), updated_at=func.now())
            .returning(MemberEndpoint.member_id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def usable_for(
        self, member_ids: Sequence[uuid.UUID]
    ) -> Sequence[Row[uuid.UUID, ChannelKind, str]]:
        """Every enabled endpoint of these members, on every channel, in one query (the ids as
        one array parameter: a worker's chunk has hundreds)."""
        if not member_ids:
            return []
        result = await self._session.execute(
            select(MemberEndpoint.member_id, MemberEndpoint.channel, MemberEndpoint.address).where(
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
                .order_by(MemberEndpoint.channel)
            )
        ).all()

    async def delete_one(self, *, member_id: uuid.UUID, channel: ChannelKind) -> bool:
        result = await self._session.execute(
            delete(MemberEndpoint).where(
                MemberEndpoint.member_id == member_id, MemberEndpoint.channel == channel
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

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
