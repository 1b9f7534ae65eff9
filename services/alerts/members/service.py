"""A member's lifecycle as alerts sees it: erasure (their replies, photos and marks) and
suspension (no replies or marks meanwhile). Flushes, never commits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.errors import MemberSuspendedError
from services.alerts.members.repository import MemberDataRepository
from shared.logs import get_logger

log = get_logger(__name__)


class MemberLifecycleService:
    def __init__(self, session: AsyncSession) -> None:
        self._members = MemberDataRepository(session)

    async def erase(self, member_id: uuid.UUID, *, keep_reply_text: bool) -> None:
        """Photos always go; replies go too unless the member chose to leave their text, in
        which case they are cut from the member. Usefulness marks keep counting, anonymously."""
        photos = await self._members.delete_reply_photos(member_id)
        if keep_reply_text:
            replies = await self._members.anonymise_replies(member_id)
        else:
            replies = await self._members.delete_replies(member_id)
        marks = await self._members.anonymise_usefulness(member_id)
        answers = await self._members.anonymise_answers(member_id)
        await self._members.reinstate(member_id)
        log.info(
            "alerts.member.erased",
            member_id=str(member_id),
            photos_deleted=photos,
            replies=replies,
            replies_kept=keep_reply_text,
            marks_anonymised=marks,
            answers_anonymised=answers,
        )

    async def suspend(self, member_id: uuid.UUID, *, at: datetime) -> None:
        await self._members.suspend(member_id, at=at)
        log.info("alerts.member.suspended", member_id=str(member_id))

    async def reinstate(self, member_id: uuid.UUID) -> None:
        await self._members.reinstate(member_id)
        log.info("alerts.member.reinstated", member_id=str(member_id))

    async def ensure_not_suspended(self, member_id: uuid.UUID) -> None:
        if await self._members.is_suspended(member_id):
            raise MemberSuspendedError("Your account is suspended: you cannot do this now.")
