"""The dashboard's cells stay equal to a recount from the source rows (alerts, follow-ups,
delivery stats, marks, replies) after a sequence of everything that changes them."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import timedelta

from sqlalchemy import any_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.schemas import AlertChange, Cancellation, Outcome
from services.alerts.dashboard.service import LONDON_TIME, DashboardService
from services.alerts.delivery.service import record_delivery_stats
from services.alerts.feedback.service import FeedbackService
from services.alerts.models import (
    DASHBOARD_COUNTS,
    Alert,
    CapStatus,
    CrimeType,
    DashboardCell,
    DeliveryStats,
    MsgType,
    Reply,
    Severity,
    Usefulness,
)
from shared.auth import Principal
from shared.db import utcnow
from shared.events import DeliveryCounts, DeliveryStatsReported
from tests.alerts.helpers import (
    coordinator,
    draft,
    mapped_settings,
    officer,
    service_for,
    unique_borough_code,
    ward_of,
)


def member() -> Principal:
    return Principal(
        member_id=uuid.uuid4(),
        pseudonym=f"Neighbour {uuid.uuid4().hex[:4]}",
        roles=frozenset({"resident"}),
        verification_level="address",
    )


def stats(alert_id: uuid.UUID, minutes: int, **delivered: int) -> DeliveryStatsReported:
    return DeliveryStatsReported(
        alert_id=alert_id,
        as_of=utcnow() + timedelta(minutes=minutes),
        channels={
            channel: DeliveryCounts(recipients=n, sent=n, delivered=n)
            for channel, n in delivered.items()
        },
    )


async def recount_from_source(
    session: AsyncSession, borough: str
) -> dict[tuple[str, str, str, str], Counter[str]]:
    """The cells of ``borough`` and its wards, counted afresh from the source rows alone."""
    originals = (
        await session.scalars(
            select(Alert).where(
                Alert.msg_type == MsgType.ALERT,
                Alert.published_at.is_not(None),
                Alert.cap_status == CapStatus.ACTUAL,
                any_(Alert.touched_borough_codes) == borough,
            )
        )
    ).all()
    cells: dict[tuple[str, str, str, str], Counter[str]] = defaultdict(Counter)
    for alert in originals:
        assert alert.published_at is not None
        month = alert.published_at.astimezone(LONDON_TIME).strftime("%Y-%m")
        follow_ups = (
            await session.scalars(
                select(Alert).where(
                    Alert.references_id == alert.id, Alert.published_at.is_not(None)
                )
            )
        ).all()
        # Counted under what it says now: its latest Update's crime type and severity (an
        # officer's correction reaches the original and every follow-up).
        updates = sorted(
            (m for m in follow_ups if m.msg_type is MsgType.UPDATE),
            key=lambda m: (m.published_at, m.created_at),
        )
        current = updates[-1] if updates else alert
        delivered: dict[str, int] = defaultdict(int)
        for row in await session.scalars(
            select(DeliveryStats).where(
                DeliveryStats.alert_id.in_([alert.id, *(m.id for m in follow_ups)])
            )
        ):
            delivered[row.channel] = max(delivered[row.channel], row.delivered)
        marks = (
            await session.scalars(select(Usefulness.useful).where(Usefulness.alert_id == alert.id))
        ).all()
        replies = (await session.scalars(select(Reply.id).where(Reply.alert_id == alert.id))).all()
        kind = alert.author_kind.value if alert.author_kind else "partner"
        counts = Counter(
            {
                "alerts": 1,
                f"severity_{current.severity.value.lower()}": 1,
                f"by_{kind}": 1,
                "updates": sum(m.msg_type is MsgType.UPDATE for m in follow_ups),
                "cancelled": int(any(m.msg_type is MsgType.CANCEL for m in follow_ups)),
                "reached_email": delivered["email"],
                "reached_sms": delivered["sms"],
                "reached_push": delivered["push"],
                "marked_useful": sum(marks),
                "marked_not_useful": len(marks) - sum(marks),
                "replies": len(replies),
            }
        )
        areas = [("borough", borough)] + [
            ("ward", w) for w in alert.touched_ward_codes if w == ward_of(borough)
        ]
        for kind_of_area, code in areas:
            for crime_type in (current.crime_type.value, "all"):
                cells[(month, kind_of_area, code, crime_type)].update(counts)
    return {key: +counts for key, counts in cells.items()}


async def cells_kept(
    session: AsyncSession, borough: str
) -> dict[tuple[str, str, str, str], Counter[str]]:
    rows = (
        await session.scalars(select(DashboardCell).where(DashboardCell.borough_code == borough))
    ).all()
    kept: dict[tuple[str, str, str, str], Counter[str]] = {}
    for row in rows:
        counts = Counter({name: getattr(row, name) for name in DASHBOARD_COUNTS})
        if +counts:
            kept[
                (row.month.strftime("%Y-%m"), row.area_kind, row.area_code, row.crime_type)
            ] = +counts
    return kept


class TestAggregatesEqualARecount:
    async def test_after_alerts_updates_cancellations_stats_marks_replies_and_an_erasure(
        self, session: AsyncSession
    ) -> None:
        settings = mapped_settings()
        borough = unique_borough_code()
        ward = ward_of(borough)
        police = officer(borough)
        watch = coordinator(ward)
        alerts = service_for(session)
        feedback = FeedbackService(session, settings=settings)

        burglary = await alerts.create_draft(
            draft(crime_type="burglary", target_borough_codes=[borough]), author=police
        )
        vehicles = await alerts.create_draft(
            draft(crime_type="theft_of_motor_vehicle", target_ward_codes=[ward], severity="Minor"),
            author=police,
        )
        robbery = await alerts.create_draft(
            draft(crime_type="robbery", target_ward_codes=[ward]), author=police
        )
        by_coordinator = await alerts.create_draft(
            draft(crime_type="burglary", target_ward_codes=[ward]), author=watch
        )
        never_published = await alerts.create_draft(
            draft(crime_type="burglary", target_ward_codes=[ward]), author=police
        )
        # Moved by an Update to another crime type and severity, with what it reached and
        # its marks; and moved by an officer's correction of its crime type.
        moved = await alerts.create_draft(
            draft(crime_type="criminal_damage", target_ward_codes=[ward], severity="Moderate"),
            author=police,
        )
        corrected = await alerts.create_draft(
            draft(crime_type="fraud_or_scam", target_borough_codes=[borough]), author=police
        )
        for alert in (burglary, vehicles, robbery, moved, corrected):
            await alerts.publish(alert.id, publisher=police)
        await alerts.submit(by_coordinator.id, author=watch)
        await alerts.approve(by_coordinator.id, officer=police)
        await alerts.publish(by_coordinator.id, publisher=police)

        update = await alerts.update(
            burglary.id,
            officer=police,
            change=AlertChange(instruction="Lock side gates.", no_victim_details_confirmed=True),
        )
        await alerts.resolve(
            vehicles.id,
            officer=police,
            outcome=Outcome(body="A suspect was arrested.", no_victim_details_confirmed=True),
        )
        await alerts.cancel(
            robbery.id, officer=police, cancellation=Cancellation(reason="Sent in error.")
        )

        for message_id, minutes, delivered in (
            (burglary.id, 1, {"email": 40, "sms": 3}),
            (burglary.id, 2, {"email": 55, "sms": 4}),  # a later total replaces the first
            (update.id, 3, {"email": 50, "push": 12}),
            (burglary.id, 1, {"email": 999}),  # an older report changes nothing
            (vehicles.id, 1, {"push": 7}),
            (moved.id, 1, {"email": 21}),
        ):
            await record_delivery_stats(
                session, stats(message_id, minutes, **delivered), settings=settings
            )

        residents = [member() for _ in range(14)]
        for n, resident in enumerate(residents):
            await feedback.mark(burglary.id, member=resident, useful=n % 3 != 0)
        await feedback.mark(burglary.id, member=residents[0], useful=True)  # changed their mind
        await feedback.mark(vehicles.id, member=residents[1], useful=False)
        for resident in residents[:3]:
            await feedback.reply(burglary.id, member=resident, text="Seen a van twice today.")
        await feedback.reply(by_coordinator.id, member=residents[0], text="Thank you.")
        for resident in residents[5:8]:
            await feedback.mark(moved.id, member=resident, useful=True)

        moved_update = await alerts.update(
            moved.id,
            officer=police,
            change=AlertChange(
                severity=Severity.SEVERE,
                crime_type=CrimeType.THEFT_FROM_PERSON,
                headline="Pickpockets, not vandals, at the market.",
                no_victim_details_confirmed=True,
            ),
        )
        await record_delivery_stats(
            session, stats(moved_update.id, 2, email=24, sms=2), settings=settings
        )
        await alerts.update(
            corrected.id,
            officer=police,
            change=AlertChange(
                instruction="Call 101 with sightings.", no_victim_details_confirmed=True
            ),
        )
        await alerts.reclassify(corrected.id, officer=police, crime_type=CrimeType.BURGLARY)

        # Erasure: the member's marks and replies go (as the member.erased consumer does),
        # and each alert they touched is recounted.
        erased = residents[0].member_id
        touched = set(
            (
                await session.scalars(
                    select(Usefulness.alert_id).where(Usefulness.member_id == erased)
                )
            ).all()
        ) | set(
            (await session.scalars(select(Reply.alert_id).where(Reply.member_id == erased))).all()
        )
        await session.execute(delete(Usefulness).where(Usefulness.member_id == erased))
        await session.execute(delete(Reply).where(Reply.member_id == erased))
        await DashboardService(session, settings=settings).recount_all(touched)

        expected = await recount_from_source(session, borough)
        assert await cells_kept(session, borough) == expected
        month = utcnow().astimezone(LONDON_TIME).strftime("%Y-%m")
        burglary_borough = expected[(month, "borough", borough, "burglary")]
        # The officer's, the coordinator's and the corrected one (its Update took the type).
        assert burglary_borough["alerts"] == 3
        assert burglary_borough["reached_email"] == 55
        assert burglary_borough["marked_useful"] + burglary_borough["marked_not_useful"] == 13
        assert burglary_borough["replies"] == 2
        ward_burglary = expected[(month, "ward", ward, "burglary")]
        assert ward_burglary["by_coordinator"] == 1
        assert expected[(month, "ward", ward, "robbery")]["cancelled"] == 1
        assert expected[(month, "ward", ward, "theft_of_motor_vehicle")]["updates"] == 1
        assert never_published.id not in touched
        # The moved alert counts once, where it is now, with its reach and marks.
        assert (month, "ward", ward, "criminal_damage") not in expected
        assert (month, "borough", borough, "fraud_or_scam") not in expected
        theft = expected[(month, "ward", ward, "theft_from_person")]
        assert (theft["alerts"], theft["severity_severe"], theft["updates"]) == (1, 1, 1)
        assert (theft["reached_email"], theft["reached_sms"], theft["marked_useful"]) == (24, 2, 3)
        # Once: the ward's crime types add up to its all cell.
        ward_cells = {
            crime_type: counts
            for (m, kind, code, crime_type), counts in expected.items()
            if (m, kind, code) == (month, "ward", ward)
        }
        assert ward_cells["all"]["alerts"] == sum(
            counts["alerts"] for crime_type, counts in ward_cells.items() if crime_type != "all"
        )

    async def test_recounting_twice_changes_nothing(self, session: AsyncSession) -> None:
        settings = mapped_settings()
        borough = unique_borough_code()
        police = officer(borough)
        alert = await service_for(session).create_draft(
            draft(target_borough_codes=[borough]), author=police
        )
        await service_for(session).publish(alert.id, publisher=police)
        dashboard = DashboardService(session, settings=settings)
        before = await cells_kept(session, borough)

        await dashboard.recount(alert.id)
        await dashboard.recount(alert.id)

        assert (
            await cells_kept(session, borough)
            == before
            == await recount_from_source(session, borough)
        )
