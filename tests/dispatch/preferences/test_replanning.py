"""Preferences reach deliveries not yet sent: a digest never goes out inside quiet hours, a
delivery released from ``pending`` waits for quiet hours and the digest like any other, and a
preference change re-plans what is still unsent (channels no longer wanted are dropped)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus, MemberEndpoint
from services.dispatch.preferences.rules import (
    LONDON,
    Preferences,
    QuietHours,
    UnsentDelivery,
    next_digest_at,
    replan_unsent,
)
from services.dispatch.preferences.service import PreferencesService
from shared.db import utcnow
from tests.dispatch.helpers import alert_content, unique_email

EMAIL, WEBPUSH = ChannelKind.EMAIL, ChannelKind.WEBPUSH
# A winter day (GMT): 12:00 in London is 12:00 UTC.
NOON = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)


def unsent(channel: ChannelKind, status: DeliveryStatus, due: datetime) -> UnsentDelivery:
    return UnsentDelivery(uuid.uuid4(), channel, status, due, 0)


class TestDigestInQuietHours:
    def test_a_digest_hour_inside_quiet_hours_waits_for_their_end(self) -> None:
        preferences = Preferences(quiet_hours=QuietHours(time(22), time(8)), digest_hour=7)

        assert next_digest_at(preferences, NOON) == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)

    def test_a_digest_hour_outside_them_is_kept(self) -> None:
        preferences = Preferences(quiet_hours=QuietHours(time(22), time(6)), digest_hour=7)

        assert next_digest_at(preferences, NOON) == datetime(2026, 1, 15, 7, 0, tzinfo=UTC)


class TestReplanUnsent:
    def test_a_channel_no_longer_wanted_is_dropped(self) -> None:
        delivery = unsent(WEBPUSH, DeliveryStatus.CREATED, NOON)
        email_only = Preferences(severity_channels={"Severe": frozenset({EMAIL})})

        replanned = replan_unsent(delivery, email_only, alert_content(severity="Severe"), NOON)

        assert replanned is not None and replanned.status is DeliveryStatus.FAILED

    def test_a_due_delivery_waits_for_new_quiet_hours(self) -> None:
        delivery = unsent(WEBPUSH, DeliveryStatus.CREATED, NOON)
        quiet = Preferences(quiet_hours=QuietHours(time(11), time(14)))

        replanned = replan_unsent(delivery, quiet, alert_content(severity="Severe"), NOON)

        assert replanned is not None
        assert (replanned.status, replanned.next_attempt_at) == (
            DeliveryStatus.CREATED,
            datetime(2026, 1, 14, 14, 0, tzinfo=UTC),
        )

    def test_low_severity_email_joins_a_new_digest_and_leaves_a_dropped_one(self) -> None:
        content = alert_content(severity="Minor")
        delivery = unsent(EMAIL, DeliveryStatus.CREATED, NOON)
        digest = Preferences(digest_hour=18)

        held = replan_unsent(delivery, digest, content, NOON)
        assert held is not None
        assert (held.status, held.next_attempt_at) == (
            DeliveryStatus.HELD,
            datetime(2026, 1, 14, 18, 0, tzinfo=UTC),
        )
        waiting = unsent(EMAIL, DeliveryStatus.HELD, held.next_attempt_at)
        released = replan_unsent(waiting, Preferences(), content, NOON)
        assert released is not None
        assert (released.status, released.next_attempt_at) == (DeliveryStatus.CREATED, NOON)

    def test_nothing_changes_when_the_plan_is_the_same(self) -> None:
        delivery = unsent(WEBPUSH, DeliveryStatus.CREATED, NOON)

        assert replan_unsent(delivery, Preferences(), alert_content(), NOON) is None


def quiet_now() -> QuietHours:
    """Quiet hours from an hour ago to two hours ahead, London time (whatever time it is)."""
    local = utcnow().astimezone(LONDON)
    return QuietHours(
        (local - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        (local + timedelta(hours=2)).time().replace(second=0, microsecond=0),
    )


async def record(
    sessions: async_sessionmaker[AsyncSession],
    member_id: uuid.UUID,
    channel: ChannelKind,
    status: DeliveryStatus,
) -> uuid.UUID:
    """An alert stored as the batch consumer stores it, and one delivery of it; its id."""
    content = alert_content(severity="Severe")
    async with sessions() as session, session.begin():
        service = DeliveryService(session)
        await service._deliveries.store_alert(
            alert_id=content.alert_id,
            content=content.model_dump(mode="json"),
            priority=1,
            deliver_until=utcnow() + timedelta(days=1),
        )
        row = Delivery(
            alert_id=content.alert_id,
            member_id=member_id,
            channel=channel,
            status=status,
            next_attempt_at=utcnow() + timedelta(hours=6),
        )
        session.add(row)
        await session.flush()
        return row.id


class TestUnsentDeliveries:
    async def test_a_released_delivery_waits_for_quiet_hours(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id = uuid.uuid4()
        quiet = quiet_now()
        delivery_id = await record(sessions, member_id, EMAIL, DeliveryStatus.PENDING)
        async with sessions() as session, session.begin():
            await PreferencesService(session).replace(member_id, Preferences(quiet_hours=quiet))
            session.add(
                MemberEndpoint(
                    member_id=member_id,
                    channel=EMAIL,
                    address=unique_email(),
                    verified_at=utcnow(),
                )
            )

        async with sessions() as session, session.begin():
            released = await DeliveryService(session).release_pending_for(member_id)

        assert released == 1
        async with sessions() as session:
            row = await session.get(Delivery, delivery_id)
        assert row is not None and row.status is DeliveryStatus.CREATED
        assert row.next_attempt_at > utcnow() + timedelta(minutes=30)
        assert row.next_attempt_at.astimezone(LONDON).time() == quiet.end

    async def test_a_delivery_the_sweeper_releases_waits_for_quiet_hours_too(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """The sweeper's release (a verification that raced a batch) re-plans like the
        verification's own."""
        member_id = uuid.uuid4()
        quiet = quiet_now()
        delivery_id = await record(sessions, member_id, EMAIL, DeliveryStatus.PENDING)
        async with sessions() as session, session.begin():
            await PreferencesService(session).replace(member_id, Preferences(quiet_hours=quiet))
            session.add(
                MemberEndpoint(
                    member_id=member_id,
                    channel=EMAIL,
                    address=unique_email(),
                    verified_at=utcnow(),
                )
            )

        async with sessions() as session, session.begin():
            # Other tests' recent pending rows may be released too: only this one is checked.
            released = await DeliveryService(session).release_recent_pending(
                recorded_after=utcnow() - timedelta(minutes=1)
            )

        assert released >= 1
        async with sessions() as session:
            row = await session.get(Delivery, delivery_id)
        assert row is not None and row.status is DeliveryStatus.CREATED
        assert row.next_attempt_at > utcnow() + timedelta(minutes=30)
        assert row.next_attempt_at.astimezone(LONDON).time() == quiet.end

    async def test_a_preference_change_drops_unsent_deliveries_on_unwanted_channels(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        member_id = uuid.uuid4()
        push = await record(sessions, member_id, WEBPUSH, DeliveryStatus.CREATED)
        email = await record(sessions, member_id, EMAIL, DeliveryStatus.CREATED)
        quiet = quiet_now()
        # Email only, and quiet now: what stays is due when the quiet hours end (not now, so
        # no delivery worker of the app takes it meanwhile).
        email_only = Preferences(
            severity_channels={"Severe": frozenset({EMAIL})}, quiet_hours=quiet
        )

        async with sessions() as session, session.begin():
            await PreferencesService(session).replace(member_id, email_only)

        async with sessions() as session:
            dropped = await session.get(Delivery, push)
            kept = await session.get(Delivery, email)
        assert dropped is not None and dropped.status is DeliveryStatus.FAILED
        assert dropped.last_error == "no longer wanted by the member's preferences"
        assert kept is not None and kept.status is DeliveryStatus.CREATED
        # It was due in six hours under the old plan; now when the quiet hours end.
        assert kept.next_attempt_at < utcnow() + timedelta(hours=3)
        assert kept.next_attempt_at.astimezone(LONDON).time() == quiet.end
