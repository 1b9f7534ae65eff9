"""The batch consumer's rows as members' preferences make them, on a rolled-back session:
unwanted channels not recorded, quiet hours delaying, digests holding."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from services.dispatch.preferences.rules import (
    LONDON,
    Preferences,
    QuietHours,
    next_digest_at,
)
from services.dispatch.preferences.service import PreferencesService
from shared.db import utcnow
from tests.dispatch.helpers import add_email_endpoint, alert_content, recipient_batch, unique_email

# An address verified a day before the test runs: never a fixed date, whose alerts would expire.
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


async def member(session: AsyncSession, preferences: Preferences | None = None) -> uuid.UUID:
    member_id = uuid.uuid4()
    await add_email_endpoint(session, member_id, unique_email(), verified_at=VERIFIED_AT)
    if preferences is not None:
        await PreferencesService(session).replace(member_id, preferences)
    return member_id


async def rows(session: AsyncSession, alert_id: uuid.UUID) -> dict[uuid.UUID, Delivery]:
    found = await session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
    return {row.member_id: row for row in found}


def quiet_now() -> QuietHours:
    """A window from an hour ago to an hour from now, London time (across midnight or not)."""
    local = utcnow().astimezone(LONDON)
    return QuietHours(
        (local - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        (local + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )


class TestBatchWithPreferences:
    async def test_each_member_gets_the_rows_their_preferences_ask_for(
        self, session: AsyncSession
    ) -> None:
        default = await member(session)
        unsubscribed = await member(session, Preferences(unsubscribed_all=True))
        no_minor_email = await member(
            session,
            Preferences(
                severity_channels={
                    **Preferences().severity_channels,
                    "Minor": frozenset({ChannelKind.WEBPUSH}),
                }
            ),
        )
        quiet = await member(session, Preferences(quiet_hours=quiet_now()))
        digest = await member(session, Preferences(digest_hour=8))
        batch = recipient_batch(
            [default, unsubscribed, no_minor_email, quiet, digest],
            content=alert_content(severity="Minor"),
        )
        before = utcnow()

        report = await DeliveryService(session).record_batch(batch)

        recorded = await rows(session, batch.content.alert_id)
        assert set(recorded) == {default, quiet, digest}
        assert (report.created, report.held, report.pending) == (2, 1, 0)
        assert recorded[default].status is DeliveryStatus.CREATED
        assert recorded[default].next_attempt_at < before + timedelta(minutes=1)
        assert recorded[quiet].status is DeliveryStatus.CREATED
        assert (
            before + timedelta(minutes=58)
            < recorded[quiet].next_attempt_at
            < before + timedelta(minutes=62)
        )
        assert recorded[digest].status is DeliveryStatus.HELD
        assert recorded[digest].next_attempt_at == next_digest_at(
            Preferences(digest_hour=8), before
        )

    async def test_an_immediate_alert_ignores_quiet_hours_and_the_digest(
        self, session: AsyncSession
    ) -> None:
        quiet = await member(session, Preferences(quiet_hours=quiet_now(), digest_hour=8))
        batch = recipient_batch(
            [quiet], content=alert_content(severity="Minor", urgency="Immediate")
        )
        before = utcnow()

        await DeliveryService(session).record_batch(batch)

        [row] = (await rows(session, batch.content.alert_id)).values()
        assert row.status is DeliveryStatus.CREATED
        assert row.next_attempt_at < before + timedelta(minutes=1)

    async def test_an_unsubscribed_category_records_nothing_even_while_pending(
        self, session: AsyncSession
    ) -> None:
        no_address = uuid.uuid4()
        await PreferencesService(session).replace(
            no_address, Preferences(unsubscribed_categories=frozenset({"burglary"}))
        )
        batch = recipient_batch([no_address], content=alert_content(category="burglary"))

        report = await DeliveryService(session).record_batch(batch)

        assert report.pending == 0
        assert await rows(session, batch.content.alert_id) == {}
