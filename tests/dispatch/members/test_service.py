"""Recording verified addresses: ordering and the disabled flag, on a rolled-back session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.members.service import MemberEndpointService
from services.dispatch.models import ChannelKind, MemberEndpoint
from tests.dispatch.helpers import email_verified, endpoint_of, unique_email

EARLIER = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
LATER = EARLIER + timedelta(minutes=5)


async def endpoint(session: AsyncSession, member_id: uuid.UUID) -> MemberEndpoint:
    found = await endpoint_of(session, member_id, ChannelKind.EMAIL)
    assert found is not None
    return found


class TestRecordVerifiedEmail:
    async def test_an_older_verification_arriving_late_changes_nothing(
        self, session: AsyncSession
    ) -> None:
        service = MemberEndpointService(session)
        member_id, current, replaced = uuid.uuid4(), unique_email(), unique_email()

        await service.record_verified_email(email_verified(member_id, current), verified_at=LATER)
        await service.record_verified_email(
            email_verified(member_id, replaced), verified_at=EARLIER
        )

        recorded = await endpoint(session, member_id)
        assert (recorded.address, recorded.verified_at) == (current, LATER)

    async def test_a_new_address_is_enabled_even_if_the_old_one_was_disabled(
        self, session: AsyncSession
    ) -> None:
        service = MemberEndpointService(session)
        member_id, old, new = uuid.uuid4(), unique_email(), unique_email()
        await service.record_verified_email(email_verified(member_id, old), verified_at=EARLIER)
        (await endpoint(session, member_id)).disabled_at = EARLIER
        await session.flush()

        await service.record_verified_email(email_verified(member_id, new), verified_at=LATER)

        recorded = await endpoint(session, member_id)
        assert (recorded.address, recorded.disabled_at) == (new, None)

    async def test_the_same_address_verified_again_stays_disabled(
        self, session: AsyncSession
    ) -> None:
        service = MemberEndpointService(session)
        member_id, address = uuid.uuid4(), unique_email()
        await service.record_verified_email(email_verified(member_id, address), verified_at=EARLIER)
        (await endpoint(session, member_id)).disabled_at = EARLIER
        await session.flush()

        await service.record_verified_email(email_verified(member_id, address), verified_at=LATER)

        recorded = await endpoint(session, member_id)
        assert (recorded.verified_at, recorded.disabled_at) == (LATER, EARLIER)
