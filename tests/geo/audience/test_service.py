"""Audience resolution in one transaction (rolled back after each test)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.audience.service import AudienceService, uuid_texts
from services.geo.models import AlertAudience, MemberNumber, OutboxMessage
from services.geo.subscriptions.service import SubscriptionService
from shared.events import EventEnvelope, RecipientBatch, Topic
from tests.geo.factories import alert_published, subscribe, unique_ward_code


async def staged_batches(session: AsyncSession, alert_id: uuid.UUID) -> list[dict[str, Any]]:
    envelopes = (
        await session.scalars(
            select(OutboxMessage.envelope)
            .where(OutboxMessage.envelope["payload"]["content"]["alert_id"].astext == str(alert_id))
            .order_by(OutboxMessage.position)
        )
    ).all()
    return list(envelopes)


class TestResolveAudience:
    async def test_members_of_targeted_wards_once_each_in_batches(
        self, session: AsyncSession
    ) -> None:
        ward_w, ward_y, other = unique_ward_code(), unique_ward_code(), unique_ward_code()
        in_w = [uuid.uuid4() for _ in range(3)]
        in_both = uuid.uuid4()
        only_other = uuid.uuid4()
        for member_id in in_w:
            await subscribe(session, member_id, ward_w)
        await subscribe(session, in_both, ward_w, ward_y)
        await subscribe(session, only_other, other)
        alert = alert_published([ward_w, ward_y, ward_w])
        event_id = uuid.uuid4()

        audience = await AudienceService(session).resolve_audience(event_id, alert, batch_size=2)

        expected = sorted([*in_w, in_both])
        assert (audience.recipient_count, audience.batch_count) == (4, 2)
        assert audience.event_id == event_id
        assert audience.alert_id == alert.content.alert_id
        assert audience.duration_ms >= 0
        envelopes = await staged_batches(session, alert.content.alert_id)
        assert [e["type"] for e in envelopes] == ["recipients.batch"] * 2
        batches = [RecipientBatch.model_validate(e["payload"]) for e in envelopes]
        assert [b.batch_number for b in batches] == [0, 1]
        assert [b.member_ids for b in batches] == [expected[:2], expected[2:]]
        assert all(b.content == alert.content for b in batches)
        assert only_other not in {m for b in batches for m in b.member_ids}
        rows = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.event_id.in_([uuid.UUID(e["event_id"]) for e in envelopes])
                )
            )
        ).all()
        assert {r.topic for r in rows} == {Topic.RECIPIENT_BATCHES.value}
        assert {r.key for r in rows} == {
            f"{alert.content.alert_id}:0",
            f"{alert.content.alert_id}:1",
        }

    async def test_last_batch_holds_the_remainder(self, session: AsyncSession) -> None:
        ward = unique_ward_code()
        members = sorted(uuid.uuid4() for _ in range(5))
        for member_id in members:
            await subscribe(session, member_id, ward)
        alert = alert_published([ward])

        audience = await AudienceService(session).resolve_audience(
            uuid.uuid4(), alert, batch_size=2
        )

        sizes = [
            len(e["payload"]["member_ids"])
            for e in await staged_batches(session, alert.content.alert_id)
        ]
        assert sizes == [2, 2, 1]
        assert (audience.recipient_count, audience.batch_count) == (5, 3)

    async def test_empty_audience_records_zero_and_stages_nothing(
        self, session: AsyncSession
    ) -> None:
        await subscribe(session, uuid.uuid4(), unique_ward_code())
        alert = alert_published([unique_ward_code()])
        event_id = uuid.uuid4()

        await AudienceService(session).resolve_audience(event_id, alert, batch_size=2)

        recorded = await session.scalar(
            select(AlertAudience).where(AlertAudience.event_id == event_id)
        )
        assert recorded is not None
        assert (recorded.recipient_count, recorded.batch_count) == (0, 0)
        assert await staged_batches(session, alert.content.alert_id) == []

    async def test_no_target_wards_is_an_empty_audience(self, session: AsyncSession) -> None:
        audience = await AudienceService(session).resolve_audience(
            uuid.uuid4(), alert_published([]), batch_size=500
        )
        assert (audience.recipient_count, audience.batch_count) == (0, 0)


class TestStagedEnvelopes:
    """Batches are serialised once per alert and stamped per batch (the fan-out's hot path):
    what lands in the outbox must be exactly what wrapping each RecipientBatch would give."""

    async def test_envelope_matches_the_event_contract_whatever_the_text(
        self, session: AsyncSession
    ) -> None:
        ward = unique_ward_code()
        members = sorted(uuid.uuid4() for _ in range(3))
        for member_id in members:
            await subscribe(session, member_id, ward)
        alert = alert_published([ward])
        tricky = 'Quotes " and \\ backslash, "member_ids": "member-ids", café ✓'
        alert = alert.model_copy(
            update={"content": alert.content.model_copy(update={"headline": tricky})}
        )

        await AudienceService(session).resolve_audience(uuid.uuid4(), alert, batch_size=2)

        envelopes = [
            EventEnvelope.model_validate(e)
            for e in await staged_batches(session, alert.content.alert_id)
        ]
        payloads = [e.parse_payload() for e in envelopes]
        assert payloads == [
            RecipientBatch(content=alert.content, batch_number=0, member_ids=members[:2]),
            RecipientBatch(content=alert.content, batch_number=1, member_ids=members[2:]),
        ]
        assert len({e.event_id for e in envelopes}) == 2
        assert {(e.type, e.producer) for e in envelopes} == {("recipients.batch", "geo")}

    def test_ids_are_written_in_canonical_text(self) -> None:
        ids = sorted(uuid.uuid4() for _ in range(50))
        packed = b"".join(i.bytes for i in ids)

        assert [t.decode() for t in uuid_texts(packed)] == [str(i) for i in ids]


class TestMemberNumbers:
    async def test_erased_member_is_unnumbered_and_reached_by_nothing(
        self, session: AsyncSession
    ) -> None:
        ward = unique_ward_code()
        kept, erased = uuid.uuid4(), uuid.uuid4()
        await subscribe(session, kept, ward)
        await subscribe(session, erased, ward)

        await SubscriptionService(session).erase_member(erased)
        audience = await AudienceService(session).resolve_audience(
            uuid.uuid4(), alert_published([ward]), batch_size=10
        )

        assert audience.recipient_count == 1
        numbered = (
            await session.scalars(
                select(MemberNumber.member_id).where(MemberNumber.member_id.in_([kept, erased]))
            )
        ).all()
        assert numbered == [kept]
