"""Kafka handlers of identity's member events: a verified address sets the home ward; an
erased member's subscriptions and recipient-set entries go with them; a suspended member is
left out of audience previews until reinstated."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.errors import UnknownWardError
from services.geo.members.service import MemberLifecycleService
from services.geo.subscriptions import service
from shared.consumer import PoisonMessageError
from shared.events import (
    EventEnvelope,
    MemberAddressVerified,
    MemberErased,
    MemberExportRequested,
    MemberReinstated,
    MemberSuspended,
    Topic,
)
from shared.runtime import ConsumerSpec

MEMBERS_GROUP = "geo.members"


async def on_address_verified(
    session: AsyncSession, envelope: EventEnvelope, payload: MemberAddressVerified
) -> None:
    try:
        await service.set_home_ward(session, payload.member_id, payload.home_ward_code)
    except UnknownWardError as error:
        # Identity took the ward from the same boundaries; a code geo does not know will not
        # become known by retrying, so an operator must look at it.
        raise PoisonMessageError(f"unknown home ward: {error.detail}") from error


async def on_member_erased(
    session: AsyncSession, envelope: EventEnvelope, payload: MemberErased
) -> None:
    await MemberLifecycleService(session).erase(payload.member_id)


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
            MemberAddressVerified: on_address_verified,
            MemberErased: on_member_erased,
            MemberSuspended: on_member_suspended,
            MemberReinstated: on_member_reinstated,
            MemberExportRequested: on_export_requested,
        },
    )
