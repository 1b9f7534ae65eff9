"""Approval by an officer of every borough a target touches, the second officer, and Updates
held for the same approval; on real ONS wards (Camden, Islington, the City of London)."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.schemas import AlertChange, Cancellation, Outcome
from services.alerts.authoring.service import AlertService
from services.alerts.config import AlertsSettings
from services.alerts.errors import AlertForbiddenError, AlertStateConflictError
from services.alerts.models import Alert, AlertState, MsgType, OutboxMessage
from shared.auth import Principal
from shared.settings import Environment
from tests.alerts.conftest import WARDS_CSV
from tests.alerts.helpers import coordinator, draft, officer, service_for

CAMDEN = "E09000007"
ISLINGTON = "E09000019"
CITY = "E09000001"
BELSIZE = "E05013652"  # Camden
BLOOMSBURY = "E05013653"  # Camden
ARSENAL = "E05013697"  # Islington
# A point in the City of London, between Aldersgate and Bassishaw.
CITY_CENTRE = {"lat": 51.5172, "lon": -0.0935}


@pytest.fixture
def service(session: AsyncSession) -> AlertService:
    return service_for(session)


async def submitted(service: AlertService, author: Principal, **overrides: object) -> Alert:
    alert = await service.create_draft(draft(**overrides), author=author)
    return await service.submit(alert.id, author=author)


def state_of(alert: Alert) -> AlertState:
    """The state as it is now (a plain read, which type narrowing cannot pin down)."""
    return alert.state


async def staged_messages(session: AsyncSession, original_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.position))
    found = []
    for row in rows:
        content = row.envelope["payload"]["content"]
        if str(original_id) in (content["alert_id"], content["references"]):
            found.append(uuid.UUID(content["alert_id"]))
    return found


class TestTouchedBoroughs:
    async def test_wards_count_toward_their_boroughs(self, service: AlertService) -> None:
        author = coordinator(BELSIZE, ARSENAL)

        alert = await service.create_draft(
            draft(target_ward_codes=[BELSIZE, ARSENAL]), author=author
        )

        assert alert.touched_borough_codes == [CAMDEN, ISLINGTON]
        assert alert.author_borough_codes == []

    async def test_a_circle_touches_the_wards_and_borough_under_it(
        self, service: AlertService
    ) -> None:
        alert = await service.create_draft(
            draft(
                target_ward_codes=[BELSIZE],
                target_circles=[{**CITY_CENTRE, "radius_km": 0.2}],
            ),
            author=officer(CAMDEN, CITY),
        )

        assert alert.touched_borough_codes == [CITY, CAMDEN]
        assert "E05009288" in alert.touched_ward_codes  # Aldersgate
        assert BELSIZE in alert.touched_ward_codes

    async def test_a_borough_officer_covers_the_wards_of_their_borough(
        self, service: AlertService
    ) -> None:
        alert = await service.create_draft(
            draft(target_ward_codes=[BELSIZE, BLOOMSBURY]), author=officer(CAMDEN)
        )

        assert alert.author_borough_codes == [CAMDEN]
        published = await service.publish(alert.id, publisher=officer(CAMDEN))
        assert published.state is AlertState.PUBLISHED

    async def test_an_officer_cannot_write_for_another_boroughs_ward(
        self, service: AlertService
    ) -> None:
        with pytest.raises(AlertForbiddenError):
            await service.create_draft(draft(target_ward_codes=[ARSENAL]), author=officer(CAMDEN))

    def test_production_refuses_to_start_without_the_ward_map(self) -> None:
        with pytest.raises(ValidationError, match="ALERTS_WARDS_CSV"):
            AlertsSettings(environment=Environment.PRODUCTION)
        assert AlertsSettings(environment=Environment.PRODUCTION, wards_csv=WARDS_CSV)


class TestApprovalByEveryBorough:
    async def test_each_touched_borough_must_approve(
        self, service: AlertService, session: AsyncSession
    ) -> None:
        alert = await submitted(
            service, coordinator(BELSIZE, ARSENAL), target_ward_codes=[BELSIZE, ARSENAL]
        )
        camden, islington = officer(CAMDEN), officer(ISLINGTON)

        await service.approve(alert.id, officer=camden)
        assert state_of(alert) is AlertState.SUBMITTED
        audit = await service.audit(alert.id)
        assert audit[-1].note is not None and ISLINGTON in audit[-1].note
        with pytest.raises(AlertStateConflictError):
            await service.publish(alert.id, publisher=camden)

        await service.approve(alert.id, officer=islington)
        assert state_of(alert) is AlertState.APPROVED
        assert [(a["officer_id"], a["boroughs"]) for a in alert.approvals] == [
            (str(camden.member_id), [CAMDEN]),
            (str(islington.member_id), [ISLINGTON]),
        ]

        # Either borough's officer may now release it, though neither covers all of it.
        await service.publish(alert.id, publisher=islington)
        assert state_of(alert) is AlertState.PUBLISHED
        assert await staged_messages(session, alert.id) == [alert.id]

    async def test_an_officer_of_an_untouched_borough_may_not_approve(
        self, service: AlertService
    ) -> None:
        alert = await submitted(service, coordinator(BELSIZE), target_ward_codes=[BELSIZE])

        with pytest.raises(AlertForbiddenError):
            await service.approve(alert.id, officer=officer(ISLINGTON))
        assert alert.approvals == []

    async def test_one_officer_of_both_boroughs_is_not_enough(self, service: AlertService) -> None:
        alert = await submitted(
            service, coordinator(BELSIZE, ARSENAL), target_ward_codes=[BELSIZE, ARSENAL]
        )

        await service.approve(alert.id, officer=officer(CAMDEN, ISLINGTON))
        assert state_of(alert) is AlertState.SUBMITTED

        await service.approve(alert.id, officer=officer(CAMDEN))
        assert state_of(alert) is AlertState.APPROVED

    async def test_extreme_in_one_borough_needs_two_different_officers(
        self, service: AlertService
    ) -> None:
        alert = await submitted(
            service, coordinator(BELSIZE), target_ward_codes=[BELSIZE], severity="Extreme"
        )
        first = officer(CAMDEN)

        await service.approve(alert.id, officer=first)
        with pytest.raises(AlertStateConflictError):
            await service.approve(alert.id, officer=first)
        assert state_of(alert) is AlertState.SUBMITTED

        await service.approve(alert.id, officer=officer(CAMDEN))
        assert state_of(alert) is AlertState.APPROVED

    async def test_the_author_never_approves(self, service: AlertService) -> None:
        author = officer(CAMDEN, ISLINGTON)
        alert = await submitted(service, author, target_ward_codes=[BELSIZE, ARSENAL])

        with pytest.raises(AlertForbiddenError):
            await service.approve(alert.id, officer=author)

    async def test_a_ward_only_target_across_boroughs_needs_a_second_officer(
        self, service: AlertService
    ) -> None:
        """An officer of both boroughs writes it; their writing signs off both, but the target
        is wider than one borough, so a second officer must approve."""
        author = officer(CAMDEN, ISLINGTON)
        alert = await service.create_draft(
            draft(target_ward_codes=[BELSIZE, ARSENAL]), author=author
        )

        with pytest.raises(AlertStateConflictError):
            await service.publish(alert.id, publisher=author)
        await service.submit(alert.id, author=author)
        await service.approve(alert.id, officer=officer(ISLINGTON))
        assert state_of(alert) is AlertState.APPROVED

    async def test_a_shape_reaching_another_borough_needs_its_officer(
        self, service: AlertService
    ) -> None:
        author = officer(CAMDEN)
        circle = {**CITY_CENTRE, "radius_km": 0.2}
        alert = await service.create_draft(
            draft(target_ward_codes=[BELSIZE], target_circles=[circle]), author=author
        )

        with pytest.raises(AlertStateConflictError):
            await service.publish(alert.id, publisher=author)
        await service.submit(alert.id, author=author)
        with pytest.raises(AlertForbiddenError):
            await service.approve(alert.id, officer=officer(ISLINGTON))
        await service.approve(alert.id, officer=officer(CITY))
        assert state_of(alert) is AlertState.APPROVED

    async def test_returning_clears_every_approval(self, service: AlertService) -> None:
        alert = await submitted(
            service, coordinator(BELSIZE, ARSENAL), target_ward_codes=[BELSIZE, ARSENAL]
        )
        await service.approve(alert.id, officer=officer(CAMDEN))

        await service.return_to_draft(alert.id, officer=officer(ISLINGTON), reason="Check it")

        assert state_of(alert) is AlertState.DRAFT
        assert alert.approvals == [] and alert.approver_ids == []


def change(**fields: object) -> AlertChange:
    return AlertChange.model_validate(
        {"instruction": "Avoid Mill Lane.", "no_victim_details_confirmed": True, **fields}
    )


async def published_extreme(service: AlertService) -> Alert:
    author = officer(CAMDEN)
    alert = await service.create_draft(
        draft(target_ward_codes=[BELSIZE], severity="Extreme"), author=author
    )
    await service.submit(alert.id, author=author)
    await service.approve(alert.id, officer=officer(CAMDEN))
    return await service.publish(alert.id, publisher=author)


class TestHeldUpdates:
    async def test_an_update_of_an_extreme_alert_waits_for_a_second_officer(
        self, service: AlertService, session: AsyncSession
    ) -> None:
        alert = await published_extreme(service)
        asking, second = officer(CAMDEN), officer(CAMDEN)

        held = await service.update(alert.id, officer=asking, change=change())

        assert (held.msg_type, held.state) == (MsgType.UPDATE, AlertState.SUBMITTED)
        assert held.published_at is None
        assert state_of(alert) is AlertState.PUBLISHED
        assert await staged_messages(session, alert.id) == [alert.id]
        with pytest.raises(AlertForbiddenError):
            await service.approve(held.id, officer=asking)
        with pytest.raises(AlertForbiddenError):
            await service.approve(held.id, officer=officer(ISLINGTON))
        with pytest.raises(AlertStateConflictError):
            await service.update(alert.id, officer=second, change=change())

        released = await service.approve(held.id, officer=second)

        assert released.id == held.id
        assert state_of(released) is AlertState.PUBLISHED
        assert state_of(alert) is AlertState.UPDATED
        assert await staged_messages(session, alert.id) == [alert.id, held.id]
        assert [m.id for m in await service.follow_ups(alert)] == [held.id]
        actions = [(e.action.value, e.message_id) for e in await service.audit(alert.id)]
        assert actions[-3:] == [
            ("submitted", held.id),
            ("approved", held.id),
            ("updated", held.id),
        ]

    async def test_an_update_that_makes_an_alert_extreme_is_held(
        self, service: AlertService
    ) -> None:
        author = officer(CAMDEN)
        alert = await service.create_draft(draft(target_ward_codes=[BELSIZE]), author=author)
        await service.publish(alert.id, publisher=author)

        held = await service.update(alert.id, officer=author, change=change(severity="Extreme"))

        assert state_of(held) is AlertState.SUBMITTED

    async def test_an_ordinary_update_goes_out_at_once(self, service: AlertService) -> None:
        author = officer(CAMDEN)
        alert = await service.create_draft(draft(target_ward_codes=[BELSIZE]), author=author)
        await service.publish(alert.id, publisher=author)

        update = await service.update(alert.id, officer=author, change=change())

        assert state_of(update) is AlertState.PUBLISHED
        assert state_of(alert) is AlertState.UPDATED

    async def test_a_returned_update_never_goes_out_and_frees_the_way(
        self, service: AlertService, session: AsyncSession
    ) -> None:
        alert = await published_extreme(service)
        held = await service.update(alert.id, officer=officer(CAMDEN), change=change())

        await service.return_to_draft(held.id, officer=officer(CAMDEN), reason="Not needed")

        assert state_of(held) is AlertState.DRAFT
        assert state_of(alert) is AlertState.PUBLISHED
        with pytest.raises(AlertStateConflictError):
            await service.approve(held.id, officer=officer(CAMDEN))
        assert await service.follow_ups(alert) == []
        again = await service.update(alert.id, officer=officer(CAMDEN), change=change())
        assert again.state is AlertState.SUBMITTED
        assert await staged_messages(session, alert.id) == [alert.id]

    async def test_a_held_update_of_a_cancelled_alert_cannot_go_out(
        self, service: AlertService
    ) -> None:
        alert = await published_extreme(service)
        held = await service.update(alert.id, officer=officer(CAMDEN), change=change())
        await service.cancel(
            alert.id, officer=officer(CAMDEN), cancellation=Cancellation(reason="Sent in error.")
        )

        with pytest.raises(AlertStateConflictError):
            await service.approve(held.id, officer=officer(CAMDEN))

    async def test_an_outcome_of_an_extreme_alert_waits_too_and_then_resolves_it(
        self, service: AlertService, session: AsyncSession
    ) -> None:
        alert = await published_extreme(service)
        outcome = Outcome(
            body="The missing man has been found safe.", no_victim_details_confirmed=True
        )

        held = await service.resolve(alert.id, officer=officer(CAMDEN), outcome=outcome)

        assert state_of(held) is AlertState.SUBMITTED
        assert held.response_types == ["AllClear"]
        assert state_of(alert) is AlertState.PUBLISHED
        with pytest.raises(AlertStateConflictError):
            await service.update(alert.id, officer=officer(CAMDEN), change=change())

        await service.approve(held.id, officer=officer(CAMDEN))

        assert state_of(held) is AlertState.PUBLISHED
        assert state_of(alert) is AlertState.RESOLVED
        assert await staged_messages(session, alert.id) == [alert.id, held.id]
        assert (await service.audit(alert.id))[-1].action.value == "resolved"
