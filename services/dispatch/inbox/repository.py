"""Every SQL statement behind a member's inbox: their deliveries joined to the alerts' content.
Reads only; the request owns the (read-only) transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus, DispatchAlert
from shared.pagination import Cursor, before

# A failed delivery never reached the member; every other status is on its way or arrived.
INBOX_STATUSES: tuple[DeliveryStatus, ...] = (
    DeliveryStatus.PENDING,
    DeliveryStatus.CREATED,
    DeliveryStatus.SENDING,
    DeliveryStatus.SENT,
)


@dataclass(frozen=True)
class ChannelDelivery:
    channel: ChannelKind
    status: DeliveryStatus
    sent_at: datetime | None


@dataclass(frozen=True)
class InboxEntry:
    alert_id: uuid.UUID
    content: dict[str, Any]
    received_at: datetime
    deliveries: tuple[ChannelDelivery, ...]


# How far a delivery got, for showing one per channel of a member's several devices.
_PROGRESS = {DeliveryStatus.CREATED: 0, DeliveryStatus.SENDING: 1, DeliveryStatus.SENT: 2}


def _furthest(one: ChannelDelivery, other: ChannelDelivery) -> ChannelDelivery:
    if _PROGRESS.get(other.status, -1) > _PROGRESS.get(one.status, -1):
        return other
    if one.sent_at is not None and other.sent_at is not None and other.sent_at < one.sent_at:
        return other
    return one


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def newest_first(
        self, member_id: uuid.UUID, *, limit: int, offset: int, cursor: Cursor | None = None
    ) -> list[InboxEntry]:
        # Alerts newest first, each probed for a delivery to the member through the unique
        # (alert_id, member_id, channel, endpoint_id) index: there are far fewer alerts than
        # deliveries, and deliveries have no index by member alone.
        reached_member = (
            exists()
            .where(
                Delivery.alert_id == DispatchAlert.alert_id,
                Delivery.member_id == member_id,
                Delivery.status.in_(INBOX_STATUSES),
            )
            .correlate(DispatchAlert)
        )
        page = (
            select(DispatchAlert.alert_id)
            .where(reached_member)
            .order_by(DispatchAlert.created_at.desc(), DispatchAlert.alert_id.desc())
            .limit(limit)
            .offset(offset)
        )
        if cursor is not None:
            page = page.where(before(DispatchAlert.created_at, DispatchAlert.alert_id, cursor))
        alert_ids = list((await self._session.scalars(page)).all())
        return await self._entries(member_id, alert_ids)

    async def one(self, member_id: uuid.UUID, alert_id: uuid.UUID) -> InboxEntry | None:
        entries = await self._entries(member_id, [alert_id])
        return entries[0] if entries else None

    async def _entries(
        self, member_id: uuid.UUID, alert_ids: Sequence[uuid.UUID]
    ) -> list[InboxEntry]:
        """The alerts in ``alert_ids`` (in that order) that reached the member, with each
        channel's delivery."""
        if not alert_ids:
            return []
        rows = (
            await self._session.execute(
                select(
                    DispatchAlert.alert_id,
                    DispatchAlert.content,
                    DispatchAlert.created_at,
                    Delivery.channel,
                    Delivery.status,
                    Delivery.sent_at,
                )
                .join(Delivery, Delivery.alert_id == DispatchAlert.alert_id)
                .where(
                    Delivery.member_id == member_id,
                    Delivery.alert_id.in_(alert_ids),
                    Delivery.status.in_(INBOX_STATUSES),
                )
                .order_by(Delivery.channel)
            )
        ).all()
        contents: dict[uuid.UUID, tuple[dict[str, Any], datetime]] = {}
        deliveries: dict[uuid.UUID, list[ChannelDelivery]] = {}
        for alert_id, content, created_at, channel, status, sent_at in rows:
            contents[alert_id] = (content, created_at)
            on_channels = deliveries.setdefault(alert_id, [])
            if on_channels and on_channels[-1].channel is channel:
                # Another device on the same channel: the channel counts once, sent once
                # any device was.
                on_channels[-1] = _furthest(
                    on_channels[-1], ChannelDelivery(channel, status, sent_at)
                )
            else:
                on_channels.append(ChannelDelivery(channel, status, sent_at))
        return [
            InboxEntry(
                alert_id=alert_id,
                content=contents[alert_id][0],
                received_at=contents[alert_id][1],
                deliveries=tuple(deliveries[alert_id]),
            )
            for alert_id in alert_ids
            if alert_id in contents
        ]
