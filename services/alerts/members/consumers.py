"""The ``alerts.members`` consumer: identity's erasures, suspensions and reinstatements."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.members.service import MemberLifecycleService
from shared.events import (
    EventEnvelope,
    MemberErased,
    MemberExportRequested,
    MemberReinstated,
    MemberSuspended,
    Topic,
)
from shared.runtime import ConsumerSpec

MEMBERS_GROUP = "alerts.members"


async def on_member_erased(
    session: AsyncSession, envelope: EventEnvelope, payload: MemberErased
) -> None:
    await MemberLifecycleService(session).erase(
        payload.member_id, keep_reply_text=payload.keep_reply_text
    )


async def on_member_suspended(
    session: AsyncSession, envelope: EventEnvelope, payload: MemberSuspended
) -> None:
    await MemberLifecycleService(session).suspend(payload.member_id, at=envelope.occurred_at)


async def on_member_reinstated(
    session: AsyncSession, envelope: EventEnvelope, payload: MemberReinstated
) -> None:
    await MemberLifecycleService(session).reinstate(payload.member_id)


async def on_export_requested(
    session: AsyncSession, envelope: EventEnvelope, payload: MemberExportRequested
) -> None:
    await MemberLifecycleService(session).collect_export(payload.member_id, payload.export_id)


def members_consumer() -> ConsumerSpec:
    return ConsumerSpec(
        group_id=MEMBERS_GROUP,
        topics=(Topic.MEMBERS.value,),
        handlers={
            MemberErased: on_member_erased,
            MemberSuspended: on_member_suspended,
            MemberReinstated: on_member_reinstated,
            MemberExportRequested: on_export_requested,
        },
    )
