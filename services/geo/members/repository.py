"""Every SQL statement about suspended members and the recipient sets naming a member.
Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Row, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.models import AlertRecipientSet, MemberExportPart, SuspendedMember
from shared.events import Topic
from shared.exports import ExportPartRepository
from shared.members import SuspensionRepository

_SUSPENDED_NUMBERS = text(
    """
    SELECT coalesce(string_agg(int4send(n.member_no), ''::bytea), ''::bytea)
    FROM suspended_members AS s JOIN member_numbers AS n USING (member_id)
    """
)

# bytea's position(); SQLAlchemy's func.position would render it with a comma.
_NAMING_MEMBER = text("position(:member in alert_recipient_sets.members) > 0")


# A recipient batch's envelope without one member id (jsonb's "-" drops a string element).
_BATCH_WITHOUT_MEMBER = text(
    """
    UPDATE outbox
    SET envelope = jsonb_set(
        envelope, '{payload,member_ids}', (envelope -> 'payload' -> 'member_ids') - :member_id
    )
    WHERE topic = :topic AND envelope -> 'payload' -> 'member_ids' ? :member_id
    """
)


class MemberStandingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def suspended_numbers(self) -> bytes:
        """The member numbers of suspended members, big-endian int32 each (few: suspension
        is rare, so one small join per preview)."""
        return bytes(await self._session.scalar(_SUSPENDED_NUMBERS) or b"")

    async def recipient_sets_naming(self, member: bytes) -> Sequence[Row[uuid.UUID, bytes]]:
        """Recipient sets whose packed ids contain ``member`` somewhere (the caller checks the
        16-byte alignment), locked until the transaction ends."""
        result = await self._session.execute(
            select(AlertRecipientSet.alert_id, AlertRecipientSet.members)
            .where(_NAMING_MEMBER.bindparams(member=member))
            .with_for_update()
        )
        return result.all()

    async def replace_recipients(self, alert_id: uuid.UUID, members: bytes) -> None:
        await self._session.execute(
            update(AlertRecipientSet)
            .where(AlertRecipientSet.alert_id == alert_id)
            .values(members=members, recipient_count=len(members) // 16)
            .execution_options(synchronize_session=False)
        )

    async def remove_from_staged_batches(self, member_id: uuid.UUID) -> int:
        """Take the member's id out of the recipient batches still in the outbox (kept a day
        after publication, or waiting for it: the relay then publishes them without it)."""
        result = await self._session.execute(
            _BATCH_WITHOUT_MEMBER,
            {"member_id": str(member_id), "topic": Topic.RECIPIENT_BATCHES.value},
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def export_parts(self) -> ExportPartRepository:
        return ExportPartRepository(self._session, MemberExportPart)

    def suspensions(self) -> SuspensionRepository:
        return SuspensionRepository(self._session, SuspendedMember)
