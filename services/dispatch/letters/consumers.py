"""The ``dispatch.letters`` consumer: identity's ``member.address_letter_requested``, each
posted and recorded in one transaction (see :mod:`services.dispatch.letters.service`).

A group of its own, so a letter provider that is down holds up letters only, not the member
events of ``dispatch.members``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.channels.notify import NotifyClient
from services.dispatch.letters.service import LetterService
from shared.events import AddressLetterRequested, EventEnvelope, Topic
from shared.runtime import ConsumerSpec

GROUP_ID = "dispatch.letters"


def letter_requests_consumer(notify: NotifyClient) -> ConsumerSpec:
    async def on_address_letter_requested(
        session: AsyncSession, envelope: EventEnvelope, payload: AddressLetterRequested
    ) -> None:
        await LetterService(session, notify).post(payload)

    return ConsumerSpec(
        group_id=GROUP_ID,
        topics=(Topic.MEMBERS.value,),
        handlers={AddressLetterRequested: on_address_letter_requested},
        # Each record may wait for the provider (DISPATCH_NOTIFY_TIMEOUT_S at most, 20 s):
        # keep a poll's worth well inside Kafka's max.poll.interval of 5 minutes.
        max_poll_records=10,
    )
