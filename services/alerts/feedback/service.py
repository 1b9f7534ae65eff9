"""Members reply to alerts and mark them useful or not; staff read and answer replies.
Feedback always attaches to the original alert, whichever message of it the member saw."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.repository import AlertRepository
from services.alerts.config import AlertsSettings
from services.alerts.dashboard.service import DashboardService
from services.alerts.delivery.repository import DeliveryStatsRepository
from services.alerts.errors import (
    AlertForbiddenError,
    AlertNotFoundError,
    AlertStateConflictError,
    ImageNotFoundError,
    ReplyNotFoundError,
    ReplyRateLimitedError,
)
from services.alerts.feedback.repository import FeedbackRepository
from services.alerts.feedback.schemas import AlertStats, ChannelDelivery, MessageDelivery
from services.alerts.images.processing import clean_image
from services.alerts.members.service import MemberLifecycleService
from services.alerts.models import Alert, AlertState, Reply, ReplyPhoto
from shared.auth import Principal
from shared.db import utcnow
from shared.logs import get_logger
from shared.pagination import Cursor

log = get_logger(__name__)

RECEIVED_STATES = (
    AlertState.PUBLISHED,
    AlertState.UPDATED,
    AlertState.CANCELLED,
    AlertState.RESOLVED,
    AlertState.EXPIRED,
)
RATE_WINDOW = timedelta(hours=1)
# A reply speaks for a place, so its writer's address must have been checked (by letter or
# with an identity check); an email address alone says nothing about where someone lives.
REPLY_VERIFICATION_LEVELS = frozenset({"address", "identity"})


class FeedbackService:
    def __init__(self, session: AsyncSession, *, settings: AlertsSettings) -> None:
        self._alerts = AlertRepository(session)
        self._feedback = FeedbackRepository(session)
        self._delivery = DeliveryStatsRepository(session)
        self._members = MemberLifecycleService(session, settings=settings)
        self._dashboard = DashboardService(session, settings=settings)
        self._settings = settings

    async def _original(self, alert_id: uuid.UUID, *, must_be_out: bool = True) -> Alert:
        alert = await self._alerts.get(alert_id)
        if alert is not None and alert.references_id is not None:
            alert = await self._alerts.get(alert.references_id)
        if alert is None:
            raise AlertNotFoundError("There is no alert with this id.", alert_id=str(alert_id))
        if must_be_out and alert.state not in RECEIVED_STATES:
            # Nobody outside the authoring team has seen an unpublished alert.
            raise AlertNotFoundError("There is no alert with this id.", alert_id=str(alert_id))
        return alert

    async def mark(self, alert_id: uuid.UUID, *, member: Principal, useful: bool) -> None:
        await self._members.ensure_not_suspended(member.member_id)
        alert = await self._original(alert_id)
        await self._feedback.mark(alert.id, member.member_id, useful=useful)
        await self._dashboard.recount(alert.id)

    async def reply(self, alert_id: uuid.UUID, *, member: Principal, text: str) -> Reply:
        if member.verification_level not in REPLY_VERIFICATION_LEVELS:
            raise AlertForbiddenError(
                "Replies are open to members whose address is verified.",
                verification_level=member.verification_level[:20],
            )
        await self._members.ensure_not_suspended(member.member_id)
        alert = await self._original(alert_id)
        if alert.state is AlertState.CANCELLED:
            raise AlertStateConflictError("This alert was cancelled; replies are closed.")
        limit = self._settings.replies_per_member_per_hour
        if await self._feedback.replies_since(member.member_id, utcnow() - RATE_WINDOW) >= limit:
            raise ReplyRateLimitedError(
                f"At most {limit} replies an hour; please try again later.",
                headers={"Retry-After": "600"},
            )
        reply = await self._feedback.add_reply(
            Reply(
                alert_id=alert.id,
                member_id=member.member_id,
                member_pseudonym=member.pseudonym,
                text=text,
            )
        )
        await self._dashboard.recount(alert.id)
        log.info("alerts.reply.received", alert_id=str(alert.id), reply_id=str(reply.id))
        return reply

    async def replies(
        self, alert_id: uuid.UUID, *, limit: int, offset: int = 0, cursor: Cursor | None = None
    ) -> tuple[Sequence[Reply], set[uuid.UUID]]:
        """A page of replies, and which of them have a photo."""
        alert = await self._original(alert_id, must_be_out=False)
        replies = await self._feedback.replies(alert.id, limit=limit, offset=offset, cursor=cursor)
        return replies, await self._feedback.replies_with_photos([r.id for r in replies])

    async def attach_photo(
        self, alert_id: uuid.UUID, reply_id: uuid.UUID, *, member: Principal, data: bytes
    ) -> ReplyPhoto:
        """The member's one photo to their own reply, re-encoded without its metadata."""
        await self._members.ensure_not_suspended(member.member_id)
        alert = await self._original(alert_id)
        reply = await self._feedback.reply_for_update(alert.id, reply_id)
        if reply is None or reply.member_id != member.member_id:
            raise ReplyNotFoundError("You have no such reply to this alert.")
        if await self._feedback.photo(reply.id) is not None:
            raise AlertStateConflictError("This reply has a photo already.")
        clean = await asyncio.to_thread(clean_image, data, self._settings)
        photo = await self._feedback.add_photo(
            ReplyPhoto(
                reply_id=reply.id,
                mime_type=clean.mime_type,
                data=clean.data,
                size_bytes=len(clean.data),
                width=clean.width,
                height=clean.height,
                sha1=clean.sha1,
            )
        )
        log.info("alerts.reply.photo_attached", alert_id=str(alert.id), reply_id=str(reply.id))
        return photo

    async def photo(self, alert_id: uuid.UUID, reply_id: uuid.UUID) -> ReplyPhoto:
        alert = await self._original(alert_id, must_be_out=False)
        reply = await self._feedback.reply_for_update(alert.id, reply_id)
        photo = None if reply is None else await self._feedback.photo(reply.id)
        if photo is None:
            raise ImageNotFoundError("This reply has no photo.")
        return photo

    async def answer(
        self, alert_id: uuid.UUID, reply_id: uuid.UUID, *, staff: Principal, text: str
    ) -> Reply:
        alert = await self._original(alert_id, must_be_out=False)
        reply = await self._feedback.reply_for_update(alert.id, reply_id)
        if reply is None:
            raise ReplyNotFoundError("There is no such reply to this alert.")
        if reply.answered_at is not None:
            raise AlertStateConflictError("This reply has been answered already.")
        reply.answer = text
        reply.answered_by_id = staff.member_id
        reply.answered_by_pseudonym = staff.pseudonym
        reply.answered_at = utcnow()
        return reply

    async def stats(self, alert_id: uuid.UUID) -> AlertStats:
        alert = await self._original(alert_id, must_be_out=False)
        useful, not_useful = await self._feedback.usefulness(alert.id)
        replies, answered = await self._feedback.reply_counts(alert.id)
        messages = [alert, *await self._alerts.follow_ups(alert.id)]
        by_message: dict[uuid.UUID, dict[str, ChannelDelivery]] = {m.id: {} for m in messages}
        for row in await self._delivery.for_messages([m.id for m in messages]):
            by_message[row.alert_id][row.channel] = ChannelDelivery(
                recipients=row.recipients,
                sent=row.sent,
                delivered=row.delivered,
                failed=row.failed,
                as_of=row.as_of,
            )
        return AlertStats(
            alert_id=alert.id,
            channels=by_message[alert.id],
            messages=[
                MessageDelivery(message_id=m.id, msg_type=m.msg_type, channels=by_message[m.id])
                for m in messages
                if m.published_at is not None
            ],
            useful=useful,
            not_useful=not_useful,
            replies=replies,
            replies_answered=answered,
            follow_ups=await self._feedback.follow_up_count(alert.id),
        )
