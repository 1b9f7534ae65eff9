"""Account notices: identity asks dispatch to tell a member something about their account."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import OutboxMessage
from shared.events import MemberNoticeRequested
from shared.outbox import add_event

PRODUCER = "identity"


async def request_notice(
    session: AsyncSession, member_id: uuid.UUID, *, kind: str, subject: str, body: str
) -> None:
    """Staged in the outbox with the change it reports, so the member hears only of what
    really happened."""
    await add_event(
        session,
        OutboxMessage,
        MemberNoticeRequested(
            member_id=member_id, notice_id=uuid.uuid4(), kind=kind, subject=subject, body=body
        ),
        producer=PRODUCER,
    )
