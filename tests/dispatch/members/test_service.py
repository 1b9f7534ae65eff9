"""Recording verified addresses: ordering and the disabled flag, on a rolled-back session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.errors import InvalidSubscriptionError
from services.dispatch.members.service import MemberEndpointService
from services.dispatch.models import ChannelKind, MemberEndpoint
from services.dispatch.webpush.schemas import WebPushSubscriptionIn
from services.dispatch.webpush.service import WebPushSubscriptionService
from tests.dispatch.helpers import email_verified, endpoint_of, unique_email

EARLIER = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
LATER = EARLIER + timedelta(minutes=5)
# A browser's P-256 public key and auth secret (the schema's documented example).
P256DH = "BN7JPa5gdp3GSmO08c9sb0ZKxSxZS7EBEE43fmPzaYeHppmNIBi5oaExcgFlfVlgo4n2jr7WujWmGYsw4_Oc-3c"
AUTH = "d1mzX_KzlDs5I0bIX4ZyCw"


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


class TestBulkImport:
    """Seeding a population: the same upsert for a batch, and web push's checks for each."""

    async def test_emails_are_recorded_as_one_at_a_time_and_ordering_still_holds(
        self, session: AsyncSession
    ) -> None:
        service = MemberEndpointService(session)
        fresh, replaced = uuid.uuid4(), uuid.uuid4()
        fresh_address, current, older = unique_email(), unique_email(), unique_email()
        await service.record_verified_email(email_verified(replaced, current), verified_at=LATER)

        recorded = await service.record_verified_emails(
            [email_verified(fresh, fresh_address), email_verified(replaced, older)],
            verified_at=EARLIER,
        )

        assert recorded == 1
        assert (await endpoint(session, fresh)).address == fresh_address
        assert (await endpoint(session, replaced)).address == current

    async def test_web_push_checks_every_browser_before_writing_any(
        self, session: AsyncSession
    ) -> None:
        service = WebPushSubscriptionService(session)
        good, bad = uuid.uuid4(), uuid.uuid4()

        def browser(endpoint: str) -> WebPushSubscriptionIn:
            return WebPushSubscriptionIn.model_validate(
                {"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH}}
            )

        with pytest.raises(InvalidSubscriptionError):
            await service.subscribe_many(
                [
                    (good, browser("https://push.example/push/1")),
                    (bad, browser("http://169.254.169.254/latest")),
                ]
            )
        assert await MemberEndpointService(session).endpoints_of(good) == []

        assert await service.subscribe_many([(good, browser("https://push.example/push/1"))]) == 1
        [recorded] = await MemberEndpointService(session).endpoints_of(good)
        assert recorded.channel is ChannelKind.WEBPUSH
