"""Every SQL statement about a member's standing and what alerts holds about them: replies,
their photos, usefulness marks, suspensions. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import (
    MemberExportPart,
    Reply,
    ReplyPhoto,
    SuspendedMember,
    Usefulness,
)
from shared.exports import ExportPartRepository
from shared.members import SuspensionRepository

# What staff see in place of an erased member's pseudonym on a reply they chose to leave.
ERASED_PSEUDONYM = "Former member"
# ... and in place of an erased staff member's on their answers.
ERASED_STAFF_PSEUDONYM = "Former staff member"


class MemberDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def delete_reply_photos(self, member_id: uuid.UUID) -> int:
        result = await self._session.execute(
            delete(ReplyPhoto).where(
                ReplyPhoto.reply_id.in_(select(Reply.id).where(Reply.member_id == member_id))
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def delete_replies(self, member_id: uuid.UUID) -> int:
        result = await self._session.execute(delete(Reply).where(Reply.member_id == member_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def anonymise_replies(self, member_id: uuid.UUID) -> int:
        """Keep the replies' text but cut them from the member: each gets a fresh random id
        (so no two of them can even be linked to one writer) and no pseudonym."""
        result = await self._session.execute(
            update(Reply)
            .where(Reply.member_id == member_id)
            .values(
                member_id=func.gen_random_uuid(),
                member_pseudonym=ERASED_PSEUDONYM,
                updated_at=func.now(),
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def anonymise_answers(self, staff_id: uuid.UUID) -> int:
        """An erased staff member's answers to replies stay (the resident was answered) but
        no longer name them."""
        result = await self._session.execute(
            update(Reply)
            .where(Reply.answered_by_id == staff_id)
            .values(answered_by_id=None, answered_by_pseudonym=ERASED_STAFF_PSEUDONYM)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def anonymise_usefulness(self, member_id: uuid.UUID) -> int:
        """Each mark keeps counting (useful or not) under a fresh random id: the counts stay
        right and no mark can be traced back to the member or linked to another of theirs."""
        result = await self._session.execute(
            update(Usefulness)
            .where(Usefulness.member_id == member_id)
            .values(member_id=func.gen_random_uuid())
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def replies_of(
        self, member_id: uuid.UUID
    ) -> Sequence[Row[uuid.UUID, str, datetime, str | None, datetime | None, bool]]:
        has_photo = select(ReplyPhoto.reply_id).where(ReplyPhoto.reply_id == Reply.id).exists()
        result = await self._session.execute(
            select(
                Reply.alert_id,
                Reply.text,
                Reply.created_at,
                Reply.answer,
                Reply.answered_at,
                has_photo,
            )
            .where(Reply.member_id == member_id)
            .order_by(Reply.created_at)
        )
        return result.all()

    async def marks_of(self, member_id: uuid.UUID) -> Sequence[Usefulness]:
        return (
            await self._session.scalars(
                select(Usefulness)
                .where(Usefulness.member_id == member_id)
                .order_by(Usefulness.updated_at)
            )
        ).all()

    def export_parts(self) -> ExportPartRepository:
        return ExportPartRepository(self._session, MemberExportPart)

    def suspensions(self) -> SuspensionRepository:
        return SuspensionRepository(self._session, SuspendedMember)
