"""The workflow state machine and authorisation, on a session rolled back after each test."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.schemas import AlertChange, AlertCreate, Cancellation, Outcome
from services.alerts.authoring.service import AlertService
from services.alerts.config import AlertsSettings
from services.alerts.errors import AlertForbiddenError, AlertStateConflictError
from services.alerts.models import Alert, AlertState, MsgType, OutboxMessage
from shared.auth import Principal
from shared.db import utcnow
from shared.events import AlertPublished, EventEnvelope
from shared.settings import Environment
from tests.alerts.conftest import wards_csv_with_test_wards
from tests.alerts.helpers import unique_ward_code

BOROUGH_A = "E09000007"
BOROUGH_B = "E09000019"


def settings(environment: Environment = Environment.TEST) -> AlertsSettings:
    # Production refuses to start without a ward map; these tests use made-up wards anyway.
    wards_csv = wards_csv_with_test_wards() if environment is Environment.PRODUCTION else None
    return AlertsSettings(environment=environment, sender_name="Tawny", wards_csv=wards_csv)


def person(
    role: str, wards: list[str] | None = None, boroughs: list[str] | None = None
) -> Principal:
    return Principal(
        member_id=uuid.uuid4(),
        pseudonym=f"{role} {uuid.uuid4().hex[:4]}",
        roles=frozenset({role}),
        area_ward_codes=tuple(wards or ()),
        area_borough_codes=tuple(boroughs or ()),
    )


def draft_data(**overrides: object) -> AlertCreate:
    fields: dict[str, object] = {
        "headline": f"Robbery near the station {uuid.uuid4().hex[:6]}",
        "body": "Two phones were snatched at 9pm.",
        "crime_type": "robbery",
        "no_victim_details_confirmed": True,
    }
    fields.update(overrides)
    return AlertCreate.model_validate(fields)


class World:
    """One ward, its author officer and a second officer both commanding it."""

    def __init__(self, session: AsyncSession, environment: Environment = Environment.TEST) -> None:
        self.ward = unique_ward_code()
        self.service = AlertService(session, settings=settings(environment))
        self.session = session
        self.author = person("officer", [self.ward], [BOROUGH_A, BOROUGH_B])
        self.officer = person("officer", [self.ward], [BOROUGH_A, BOROUGH_B])
        self.third = person("officer", [self.ward], [BOROUGH_A, BOROUGH_B])

    async def draft(self, **overrides: object) -> Alert:
        data = draft_data(target_ward_codes=[self.ward], **overrides)
        return await self.service.create_draft(data, author=self.author)

    async def in_state(self, state: AlertState) -> Alert:
        """An alert brought to ``state`` by the legal path."""
        alert = await self.draft()
        service, officer = self.service, self.officer
        if state is AlertState.DRAFT:
            return alert
        if state in (AlertState.SUBMITTED, AlertState.APPROVED):
            await service.submit(alert.id, author=self.author)
            if state is AlertState.APPROVED:
                await service.approve(alert.id, officer=officer)
            return alert
        if state is AlertState.SCHEDULED:
            return await service.schedule(
                alert.id, publisher=officer, publish_at=utcnow() + timedelta(hours=1)
            )
        await service.publish(alert.id, publisher=officer)
        if state is AlertState.UPDATED:
            await service.update(alert.id, officer=officer, change=change())
        elif state is AlertState.CANCELLED:
            await service.cancel(alert.id, officer=officer, cancellation=cancellation())
        elif state is AlertState.RESOLVED:
            await service.resolve(alert.id, officer=officer, outcome=outcome())
        elif state is AlertState.EXPIRED:
            alert.expires = utcnow() - timedelta(seconds=1)
            await self.session.flush()
            await service.expire_due(utcnow())
        return alert


def state_of(alert: Alert) -> AlertState:
    """The state as it is now (a plain read, which type narrowing cannot pin down)."""
    return alert.state


def change() -> AlertChange:
    return AlertChange(instruction="Avoid Mill Lane.", no_victim_details_confirmed=True)


def cancellation() -> Cancellation:
    return Cancellation(reason="Sent in error.")


def outcome() -> Outcome:
    return Outcome(body="A suspect has been arrested. Thank you.", no_victim_details_confirmed=True)


Action = Callable[[World, Alert], Awaitable[object]]

ACTIONS: dict[str, tuple[Action, set[AlertState], AlertState | None]] = {
    # name: (call, states it is legal from, the original's state afterwards)
    "submit": (
        lambda w, a: w.service.submit(a.id, author=w.author),
        {AlertState.DRAFT},
        AlertState.SUBMITTED,
    ),
    "approve": (
        lambda w, a: w.service.approve(a.id, officer=w.third),
        {AlertState.SUBMITTED},
        AlertState.APPROVED,
    ),
    "return": (
        lambda w, a: w.service.return_to_draft(a.id, officer=w.third, reason="Needs work"),
        {AlertState.SUBMITTED, AlertState.APPROVED},
        AlertState.DRAFT,
    ),
    "publish": (
        lambda w, a: w.service.publish(a.id, publisher=w.third),
        {AlertState.DRAFT, AlertState.APPROVED},
        AlertState.PUBLISHED,
    ),
    "schedule": (
        lambda w, a: w.service.schedule(
            a.id, publisher=w.third, publish_at=utcnow() + timedelta(hours=2)
        ),
        {AlertState.DRAFT, AlertState.APPROVED},
        AlertState.SCHEDULED,
    ),
    "unschedule": (
        lambda w, a: w.service.unschedule(a.id, officer=w.third),
        {AlertState.SCHEDULED},
        AlertState.DRAFT,
    ),
    "update": (
        lambda w, a: w.service.update(a.id, officer=w.third, change=change()),
        {AlertState.PUBLISHED, AlertState.UPDATED},
        AlertState.UPDATED,
    ),
    "cancel": (
        lambda w, a: w.service.cancel(a.id, officer=w.third, cancellation=cancellation()),
        {AlertState.PUBLISHED, AlertState.UPDATED},
        AlertState.CANCELLED,
    ),
    "resolve": (
        lambda w, a: w.service.resolve(a.id, officer=w.third, outcome=outcome()),
        {AlertState.PUBLISHED, AlertState.UPDATED},
        AlertState.RESOLVED,
    ),
}
CASES = [(name, state) for name in ACTIONS for state in AlertState]


class TestStateMachine:
    @pytest.mark.parametrize(("action", "state"), CASES, ids=[f"{a}-from-{s}" for a, s in CASES])
    async def test_every_action_from_every_state(
        self, session: AsyncSession, action: str, state: AlertState
    ) -> None:
        world = World(session)
        alert = await world.in_state(state)
        assert alert.state is state
        call, legal_from, after = ACTIONS[action]
        outbox_before = await _outbox_rows(session)

        if state in legal_from:
            await call(world, alert)
            await session.refresh(alert)
            assert alert.state is after
        else:
            with pytest.raises(AlertStateConflictError):
                await call(world, alert)
            await session.refresh(alert)
            assert alert.state is state
            assert await _outbox_rows(session) == outbox_before

    @pytest.mark.parametrize("state", list(AlertState))
    async def test_only_live_alerts_expire(self, session: AsyncSession, state: AlertState) -> None:
        world = World(session)
        alert = await world.in_state(state)
        alert.expires = utcnow() - timedelta(seconds=1)
        await session.flush()

        await world.service.expire_due(utcnow())

        await session.refresh(alert)
        live = state in (AlertState.PUBLISHED, AlertState.UPDATED)
        assert alert.state is (AlertState.EXPIRED if live else state)

    async def test_a_follow_up_message_is_not_itself_workflowed(
        self, session: AsyncSession
    ) -> None:
        world = World(session)
        alert = await world.in_state(AlertState.PUBLISHED)
        update = await world.service.update(alert.id, officer=world.officer, change=change())

        with pytest.raises(AlertStateConflictError):
            await world.service.cancel(
                update.id, officer=world.officer, cancellation=cancellation()
            )

    async def test_a_scheduled_alert_is_published_when_its_time_comes(
        self, session: AsyncSession
    ) -> None:
        world = World(session)
        alert = await world.in_state(AlertState.SCHEDULED)
        assert alert.scheduled_for is not None

        assert await world.service.publish_due(alert.scheduled_for - timedelta(seconds=1)) == 0
        await session.refresh(alert)
        assert alert.state is AlertState.SCHEDULED
        await world.service.publish_due(alert.scheduled_for)

        await session.refresh(alert)
        assert state_of(alert) is AlertState.PUBLISHED
        assert alert.published_at is not None
        assert [e.message_id for e in await _events(session, alert.id)] == [alert.id]
        audit = await world.service.audit(alert.id)
        assert audit[-1].action.value == "published"
        assert audit[-1].actor_id is None

    async def test_unscheduling_an_approved_alert_returns_it_to_approved(
        self, session: AsyncSession
    ) -> None:
        world = World(session)
        alert = await world.in_state(AlertState.APPROVED)
        await world.service.schedule(
            alert.id, publisher=world.officer, publish_at=utcnow() + timedelta(hours=1)
        )

        await world.service.unschedule(alert.id, officer=world.officer)

        assert alert.state is AlertState.APPROVED
        assert alert.scheduled_for is None


class TestFollowUps:
    async def test_update_cancel_and_outcome_reference_the_original_and_reach_its_target(
        self, session: AsyncSession
    ) -> None:
        world = World(session)
        alert = await world.in_state(AlertState.PUBLISHED)

        update = await world.service.update(alert.id, officer=world.officer, change=change())
        resolved = await world.service.resolve(alert.id, officer=world.officer, outcome=outcome())

        assert (update.msg_type, update.references_id) == (MsgType.UPDATE, alert.id)
        assert update.id != alert.id
        assert update.instruction == "Avoid Mill Lane."
        assert update.headline == alert.headline
        assert resolved.response_types == ["AllClear"]
        assert resolved.headline.startswith("Resolved: ")
        events = await _events(session, alert.id)
        assert [e.message_id for e in events] == [alert.id, update.id, resolved.id]
        for event in events[1:]:
            assert event.payload.content.references == alert.id
            assert event.payload.content.msg_type == "Update"
            assert event.payload.target_ward_codes == [world.ward]
        assert events[0].payload.content.references is None

    async def test_cancel_sends_a_cancel_message(self, session: AsyncSession) -> None:
        world = World(session)
        alert = await world.in_state(AlertState.PUBLISHED)

        cancel = await world.service.cancel(
            alert.id, officer=world.officer, cancellation=cancellation()
        )

        assert cancel.msg_type is MsgType.CANCEL
        assert cancel.body == "Sent in error."
        events = await _events(session, alert.id)
        assert events[-1].payload.content.msg_type == "Cancel"
        assert events[-1].payload.content.references == alert.id

    async def test_the_audit_trail_names_who_did_what_in_order(self, session: AsyncSession) -> None:
        world = World(session)
        alert = await world.in_state(AlertState.APPROVED)
        await world.service.publish(alert.id, publisher=world.third)
        update = await world.service.update(alert.id, officer=world.officer, change=change())
        await world.service.cancel(alert.id, officer=world.third, cancellation=cancellation())

        trail = await world.service.audit(alert.id)

        assert [(e.action.value, e.from_state, e.to_state, e.actor_id) for e in trail] == [
            ("drafted", None, "draft", world.author.member_id),
            ("submitted", "draft", "submitted", world.author.member_id),
            ("approved", "submitted", "approved", world.officer.member_id),
            ("published", "approved", "published", world.third.member_id),
            ("updated", "published", "updated", world.officer.member_id),
            ("cancelled", "updated", "cancelled", world.third.member_id),
        ]
        assert trail[4].message_id == update.id
        assert trail[5].note == "Sent in error."


class TestAuthorisation:
    async def test_authoring_beyond_your_own_area_is_refused(self, session: AsyncSession) -> None:
        world = World(session)
        coordinator = person("coordinator", [world.ward], [BOROUGH_A])

        with pytest.raises(AlertForbiddenError):
            await world.service.create_draft(
                draft_data(target_borough_codes=[BOROUGH_A, BOROUGH_B]), author=coordinator
            )
        with pytest.raises(AlertForbiddenError):
            await world.service.create_draft(
                draft_data(target_ward_codes=[unique_ward_code()]), author=world.author
            )

    async def test_nobody_approves_their_own_alert(self, session: AsyncSession) -> None:
        world = World(session)
        alert = await world.in_state(AlertState.SUBMITTED)

        with pytest.raises(AlertForbiddenError):
            await world.service.approve(alert.id, officer=world.author)
        assert alert.state is AlertState.SUBMITTED

    async def test_only_officers_covering_the_target_approve(self, session: AsyncSession) -> None:
        world = World(session)
        alert = await world.in_state(AlertState.SUBMITTED)

        with pytest.raises(AlertForbiddenError):
            await world.service.approve(alert.id, officer=person("officer", [unique_ward_code()]))
        with pytest.raises(AlertForbiddenError):
            await world.service.approve(alert.id, officer=person("coordinator", [world.ward]))

    async def test_a_coordinators_draft_needs_an_officers_approval(
        self, session: AsyncSession
    ) -> None:
        world = World(session)
        coordinator = person("coordinator", [world.ward])
        alert = await world.service.create_draft(
            draft_data(target_ward_codes=[world.ward]), author=coordinator
        )

        with pytest.raises(AlertStateConflictError):
            await world.service.publish(alert.id, publisher=world.officer)
        await world.service.submit(alert.id, author=coordinator)
        await world.service.approve(alert.id, officer=world.officer)
        await world.service.publish(alert.id, publisher=world.officer)

        assert alert.state is AlertState.PUBLISHED

    async def test_only_the_author_submits(self, session: AsyncSession) -> None:
        world = World(session)
        alert = await world.draft()

        with pytest.raises(AlertForbiddenError):
            await world.service.submit(alert.id, author=world.officer)

    @pytest.mark.parametrize(
        "overrides",
        [{"severity": "Extreme"}, {"target_borough_codes": [BOROUGH_A, BOROUGH_B]}],
        ids=["extreme", "wider than one borough"],
    )
    async def test_extreme_or_wide_alerts_need_a_second_officer(
        self, session: AsyncSession, overrides: dict[str, object]
    ) -> None:
        world = World(session)
        coordinator = person("coordinator", [world.ward], [BOROUGH_A, BOROUGH_B])
        officer_draft = await world.draft(**overrides)
        coordinator_draft = await world.service.create_draft(
            draft_data(target_ward_codes=[world.ward], **overrides), author=coordinator
        )

        with pytest.raises(AlertStateConflictError):
            await world.service.publish(officer_draft.id, publisher=world.author)
        await world.service.submit(officer_draft.id, author=world.author)
        await world.service.approve(officer_draft.id, officer=world.officer)
        assert officer_draft.state is AlertState.APPROVED

        await world.service.submit(coordinator_draft.id, author=coordinator)
        await world.service.approve(coordinator_draft.id, officer=world.officer)
        assert coordinator_draft.state is AlertState.SUBMITTED
        with pytest.raises(AlertStateConflictError):
            await world.service.approve(coordinator_draft.id, officer=world.officer)
        await world.service.approve(coordinator_draft.id, officer=world.third)
        assert state_of(coordinator_draft) is AlertState.APPROVED
        assert coordinator_draft.approver_ids == [world.officer.member_id, world.third.member_id]

    async def test_an_officer_token_without_area_covers_nothing_in_production(
        self, session: AsyncSession
    ) -> None:
        unscoped = person("officer")
        data = draft_data(target_ward_codes=[unique_ward_code()])

        with pytest.raises(AlertForbiddenError):
            await World(session, Environment.PRODUCTION).service.create_draft(data, author=unscoped)
        alert = await World(session).service.create_draft(data, author=unscoped)
        assert alert.state is AlertState.DRAFT

    async def test_residents_author_nothing(self, session: AsyncSession) -> None:
        world = World(session)

        with pytest.raises(AlertForbiddenError):
            await world.service.create_draft(
                draft_data(target_ward_codes=[world.ward]), author=person("resident", [world.ward])
            )


class _Event:
    def __init__(self, payload: AlertPublished) -> None:
        self.payload = payload
        self.message_id = payload.content.alert_id


async def _outbox_rows(session: AsyncSession) -> int:
    return len((await session.scalars(select(OutboxMessage.position))).all())


async def _events(session: AsyncSession, original_id: uuid.UUID) -> list[_Event]:
    rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.position))
    found = []
    for row in rows:
        payload = EventEnvelope.model_validate(row.envelope).parse_payload()
        assert isinstance(payload, AlertPublished)
        if original_id in (payload.content.alert_id, payload.content.references):
            found.append(_Event(payload))
    return found
