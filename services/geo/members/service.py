"""A member's lifecycle as geo sees it. Erasure: their subscriptions, number and every stored
recipient set naming them. Suspension: left out of audience previews. Flushes, never commits."""

from __future__ import annotations

import uuid
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.audience.members import ID_BYTES, NUMBER, PACKED
from services.geo.members.repository import MemberStandingRepository
from services.geo.members.schemas import GeoExport
from services.geo.subscriptions.service import SubscriptionService
from shared.exports import ExportPart
from shared.logs import get_logger

log = get_logger(__name__)


def without_member(packed: bytes, member: bytes) -> bytes:
    """``packed`` (16-byte ids) with ``member`` taken out wherever it stands as a whole id."""
    ids = np.frombuffer(packed[: len(packed) - len(packed) % ID_BYTES], dtype=PACKED)
    return bytes(ids[ids != np.frombuffer(member, dtype=PACKED)[0]].tobytes())


def without_numbers(
    numbers: npt.NDArray[np.int32], excluded: npt.NDArray[np.int32]
) -> npt.NDArray[np.int32]:
    """``numbers`` (sorted, distinct) less ``excluded``."""
    if not len(excluded):
        return numbers
    return numbers[~np.isin(numbers, excluded)]


class MemberLifecycleService:
    def __init__(self, session: AsyncSession) -> None:
        self._subscriptions = SubscriptionService(session)
        self._standing = MemberStandingRepository(session)
        self._exports = self._standing.export_parts()
        self._suspensions = self._standing.suspensions()

    async def erase(self, member_id: uuid.UUID, *, keep_reply_text: bool = False) -> None:
        """Subscriptions (with their index rows and the member's number), the suspension if
        any, and the member's id in every past alert's recipient set: an Update or Cancel of
        those alerts then reaches everyone else, as before, and not them. (Geo holds no
        replies, so ``keep_reply_text`` changes nothing here.)"""
        subscriptions_deleted = await self._subscriptions.erase_member(member_id)
        await self._suspensions.reinstate(member_id)
        member = member_id.bytes
        purged = 0
        for alert_id, packed in await self._standing.recipient_sets_naming(member):
            remaining = without_member(packed, member)
            if len(remaining) != len(packed):
                await self._standing.replace_recipients(alert_id, remaining)
                purged += 1
        batches = await self._standing.remove_from_staged_batches(member_id)
        await self._exports.delete_for_member(member_id)
        log.info(
            "geo.member.erased",
            member_id=str(member_id),
            subscriptions=subscriptions_deleted,
            recipient_sets=purged,
            staged_batches=batches,
        )

    async def suspend(self, member_id: uuid.UUID, *, at: datetime) -> None:
        await self._suspensions.suspend(member_id, at=at)
        log.info("geo.member.suspended", member_id=str(member_id))

    async def reinstate(self, member_id: uuid.UUID) -> None:
        await self._suspensions.reinstate(member_id)
        log.info("geo.member.reinstated", member_id=str(member_id))

    async def suspended_numbers(self) -> npt.NDArray[np.int32]:
        packed = await self._standing.suspended_numbers()
        return np.frombuffer(packed, dtype=NUMBER).astype(np.int32)

    async def collect_export(self, member_id: uuid.UUID, export_id: uuid.UUID) -> None:
        """Geo's part of the member's export, kept for them to download."""
        data = GeoExport(
            subscriptions=await self._subscriptions.list_mine(member_id),
            suspended_at=await self._suspensions.suspended_at(member_id),
        )
        await self._exports.save(export_id=export_id, member_id=member_id, data=data)
        log.info("geo.member.export_collected", member_id=str(member_id))

    async def export_part(
        self, member_id: uuid.UUID, export_id: uuid.UUID
    ) -> ExportPart[GeoExport] | None:
        part = await self._exports.of_member(export_id, member_id)
        if part is None:
            return None
        return ExportPart[GeoExport](
            service="geo",
            export_id=part.export_id,
            generated_at=part.generated_at,
            data=GeoExport.model_validate(part.data),
        )
