"""A member's lifecycle as alerts sees it: erasure (their replies, photos and marks) and
suspension (no replies or marks meanwhile). Flushes, never commits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.config import AlertsSettings
from services.alerts.dashboard.service import DashboardService
from services.alerts.errors import MemberSuspendedError
from services.alerts.members.repository import MemberDataRepository
from services.alerts.members.schemas import AlertsExport, ExportedMark, ExportedReply
from shared.exports import ExportPart
from shared.logs import get_logger

log = get_logger(__name__)


class MemberLifecycleService:
    def __init__(self, session: AsyncSession, *, settings: AlertsSettings) -> None:
        self._dashboard = DashboardService(session, settings=settings)
        self._members = MemberDataRepository(session)
        self._exports = self._members.export_parts()
        self._suspensions = self._members.suspensions()

    async def erase(self, member_id: uuid.UUID, *, keep_reply_text: bool) -> None:
        """Photos always go; replies go too unless the member chose to leave their text, in
        which case they are cut from the member. Usefulness marks keep counting, anonymously.
        The dashboard's counts of the alerts they replied to are recounted."""
        replied_to = {row.alert_id for row in await self._members.replies_of(member_id)}
        photos = await self._members.delete_reply_photos(member_id)
        if keep_reply_text:
            replies = await self._members.anonymise_replies(member_id)
        else:
            replies = await self._members.delete_replies(member_id)
        marks = await self._members.anonymise_usefulness(member_id)
        answers = await self._members.anonymise_answers(member_id)
        await self._dashboard.recount_all(replied_to)
        await self._exports.delete_for_member(member_id)
        await self._suspensions.reinstate(member_id)
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
        await self._suspensions.suspend(member_id, at=at)
        log.info("alerts.member.suspended", member_id=str(member_id))

    async def reinstate(self, member_id: uuid.UUID) -> None:
        await self._suspensions.reinstate(member_id)
        log.info("alerts.member.reinstated", member_id=str(member_id))

    async def ensure_not_suspended(self, member_id: uuid.UUID) -> None:
        if await self._suspensions.suspended_at(member_id) is not None:
            raise MemberSuspendedError("Your account is suspended: you cannot do this now.")

    async def collect_export(self, member_id: uuid.UUID, export_id: uuid.UUID) -> None:
        """Alerts' part of the member's export, kept for them to download."""
        data = AlertsExport(
            replies=[
                ExportedReply(
                    alert_id=alert_id,
                    text=text,
                    written_at=written_at,
                    answer=answer,
                    answered_at=answered_at,
                    has_photo=has_photo,
                )
                for alert_id, text, written_at, answer, answered_at, has_photo in (
                    await self._members.replies_of(member_id)
                )
            ],
            usefulness_marks=[
                ExportedMark(alert_id=mark.alert_id, useful=mark.useful, marked_at=mark.updated_at)
                for mark in await self._members.marks_of(member_id)
            ],
            suspended_at=await self._suspensions.suspended_at(member_id),
        )
        await self._exports.save(export_id=export_id, member_id=member_id, data=data)
        log.info("alerts.member.export_collected", member_id=str(member_id))

    async def export_part(
        self, member_id: uuid.UUID, export_id: uuid.UUID
    ) -> ExportPart[AlertsExport] | None:
        part = await self._exports.of_member(export_id, member_id)
        if part is None:
            return None
        return ExportPart[AlertsExport](
            service="alerts",
            export_id=part.export_id,
            generated_at=part.generated_at,
            data=AlertsExport.model_validate(part.data),
        )
