"""Account notices: identity asks dispatch to email a member something about their account
(``member.notice_requested``); dispatch sends it to the member's verified address, once per
notice id.

Flushes, never commits: runs inside the ``dispatch.members`` consumer's transaction. The notice
is recorded as sent, then emailed: a temporary failure raises, rolling the record back, so the
consumer tries the event again; a second copy of the notice (a new event id) finds the record
and sends nothing. A member without a usable address gets nothing: there is nowhere to send it.
Notices are not alerts: unsubscribing from alerts does not stop them.
"""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.channels.base import Outcome
from services.dispatch.channels.email import EmailChannel
from services.dispatch.errors import ChannelUnavailableError
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind
from services.dispatch.notices.repository import NoticeRepository
from services.dispatch.rendering.email import notice_email
from shared.events import MemberNoticeRequested
from shared.logs import get_logger

log = get_logger(__name__)

NOTICES = Counter(
    "tawny_dispatch_notices_total",
    "Account notices, by what became of them (sent, rejected, deferred, no_address, duplicate)",
    ["outcome"],
)


async def send_notice(
    session: AsyncSession, channel: EmailChannel, notice: MemberNoticeRequested
) -> None:
    endpoints = await MemberEndpointRepository(session).usable_for([notice.member_id])
    address = next((e.address for e in endpoints if e.channel is ChannelKind.EMAIL), None)
    fields = {"member_id": str(notice.member_id), "notice_id": str(notice.notice_id)}
    if address is None:
        NOTICES.labels("no_address").inc()
        log.warning("dispatch.notice.no_address", kind=notice.kind, **fields)
        return
    if not await NoticeRepository(session).record_sent(
        notice_id=notice.notice_id, member_id=notice.member_id, kind=notice.kind
    ):
        NOTICES.labels("duplicate").inc()
        log.info("dispatch.notice.already_sent", kind=notice.kind, **fields)
        return
    message = channel.notice_message(notice_email(notice), to=address, notice_id=notice.notice_id)
    result = await channel.send_email(message, to=address)
    NOTICES.labels(result.outcome.value).inc()
    if result.outcome is Outcome.DEFERRED:
        log.warning("dispatch.notice.deferred", detail=result.detail, **fields)
        raise ChannelUnavailableError(
            "The notice could not be handed to the SMTP server.", reason=result.detail
        )
    if result.outcome is Outcome.REJECTED:
        # Kept as sent: the same address will refuse it again.
        log.warning("dispatch.notice.rejected", detail=result.detail, **fields)
        return
    log.info("dispatch.notice.sent", kind=notice.kind, **fields)
