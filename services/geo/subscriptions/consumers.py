"""Kafka handlers of identity's member events: a verified address sets the home ward; an
erased member's subscriptions and recipient-set entries go with them; a suspended member is
left out of audience previews until reinstated."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.errors import UnknownWardError
from services.geo.members.service import MemberLifecycleService
from services.geo.subscriptions.service import SubscriptionService
from shared.consumer import PoisonMessageError
from shared.events import EventEnvelope, MemberAddressVerified, Topic
from shared.members import lifecycle_handlers
from shared.runtime import ConsumerSpec

MEMBERS_GROUP = "geo.members"


async def on_address_verified(
    session: AsyncSession, envelope: EventEnvelope, payload: MemberAddressVerified
) -> None:
    try:
        await SubscriptionService(session).set_home_ward(payload.member_id, payload.home_ward_code)
    except UnknownWardError as error:
        # Identity took the ward from the same boundaries; a code geo does not know will not
        # become known by retrying, so an operator must look at it.
        raise PoisonMessageError(f"unknown home ward: {error.detail}") from error


def members_consumer() -> ConsumerSpec:
    return ConsumerSpec(
        group_id=MEMBERS_GROUP,
        topics=(Topic.MEMBERS.value,),
        handlers={
            MemberAddressVerified: on_address_verified,
            # Erasure, suspension, reinstatement and export requests.
            **lifecycle_handlers(MemberLifecycleService),
        },
    )
