"""The authoring rules on a session that is rolled back after each test."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.authoring.schemas import AlertCreate
from services.alerts.authoring.service import AlertService
from services.alerts.config import AlertsSettings
from services.alerts.errors import AlertNotFoundError, AlertStateConflictError
from services.alerts.models import (
    Alert,
    AlertState,
    CrimeType,
    MsgType,
    OutboxMessage,
    Severity,
    Urgency,
)
from shared.auth import Principal
from shared.db import session_scope
from shared.events import AlertPublished, EventEnvelope
from shared.settings import Environment
from tests.alerts.helpers import unique_ward_code


def officer(pseudonym: str = "PC Little Owl") -> Principal:
    return Principal(member_id=uuid.uuid4(), pseudonym=pseudonym, roles=frozenset({"officer"}))


def service_settings(sender_name: str = "Tawny") -> AlertsSettings:
    return AlertsSettings(environment=Environment.TEST, sender_name=sender_name)


def new_alert(**overrides: object) -> AlertCreate:
    fields: dict[str, object] = {
        "headline": f"Vehicle break-ins {uuid.uuid4().hex[:8]}",
        "body": "Several cars were broken into on Mill Lane. Leave nothing on show.",
        "crime_type": CrimeType.THEFT_FROM_MOTOR_VEHICLE,
        "target_ward_codes": [unique_ward_code()],
        "no_victim_details_confirmed": True,
    }
    fields.update(overrides)
    return AlertCreate.model_validate(fields)


async def outbox_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


class TestAlertService:
    async def test_create_draft_records_the_author_from_the_token_only(
        self, session: AsyncSession
    ) -> None:
        author = officer("PC Tawny")
        service = AlertService(session, settings=service_settings("Tawny"))

        alert = await service.create_draft(new_alert(severity=Severity.MINOR), author=author)

        stored = await session.get(Alert, alert.id)
        assert stored is not None
        assert stored.state is AlertState.DRAFT
        assert stored.msg_type is MsgType.ALERT
        assert (stored.author_id, stored.author_pseudonym) == (author.member_id, "PC Tawny")
        assert (stored.severity, stored.urgency) == (Severity.MINOR, Urgency.EXPECTED)
        assert stored.published_at is None

    async def test_publish_changes_state_and_stages_the_event_in_the_same_transaction(
        self, session: AsyncSession
    ) -> None:
        service = AlertService(
            session, settings=service_settings("Met Police Safer Neighbourhoods")
        )
        alert = await service.create_draft(new_alert(), author=officer())
        before = await outbox_count(session)

        published = await service.publish(alert.id, publisher=officer())

        assert published.state is AlertState.PUBLISHED
        assert published.published_at is not None
        assert await outbox_count(session) == before + 1
        row = await session.scalar(select(OutboxMessage).order_by(OutboxMessage.position.desc()))
        assert row is not None and row.published_at is None
        event = EventEnvelope.model_validate(row.envelope).parse_payload()
        assert isinstance(event, AlertPublished)
        assert event.content.alert_id == alert.id
        assert event.content.sender_name == "Met Police Safer Neighbourhoods"
        assert event.content.category == CrimeType.THEFT_FROM_MOTOR_VEHICLE.value
        assert event.content.sent_at == published.published_at

    async def test_publishing_a_published_alert_raises_and_stages_nothing(
        self, session: AsyncSession
    ) -> None:
        service = AlertService(session, settings=service_settings("Tawny"))
        alert = await service.create_draft(new_alert(), author=officer())
        await service.publish(alert.id, publisher=officer())
        staged = await outbox_count(session)

        with pytest.raises(AlertStateConflictError) as raised:
            await service.publish(alert.id, publisher=officer())

        assert raised.value.status_code == 409
        assert raised.value.extensions["state"] == "published"
        assert await outbox_count(session) == staged

    async def test_unknown_alert_raises_not_found(self, session: AsyncSession) -> None:
        service = AlertService(session, settings=service_settings("Tawny"))

        with pytest.raises(AlertNotFoundError):
            await service.get(uuid.uuid4())
        with pytest.raises(AlertNotFoundError):
            await service.publish(uuid.uuid4(), publisher=officer())


class TestConcurrentPublish:
    """Two officers press publish at the same moment. This needs real commits, so it uses its
    own alert and leaves it behind."""

    async def test_the_second_waits_for_the_first_then_conflicts_and_stages_nothing(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        async with session_scope(sessions) as setup:
            alert = await AlertService(setup, settings=service_settings("Tawny")).create_draft(
                new_alert(), author=officer()
            )

        async with sessions() as first, sessions() as second:
            await AlertService(first, settings=service_settings("Tawny")).publish(
                alert.id, publisher=officer()
            )
            contender = asyncio.create_task(
                AlertService(second, settings=service_settings("Tawny")).publish(
                    alert.id, publisher=officer()
                )
            )
            await asyncio.sleep(0.3)
            assert not contender.done(), "the second publish should wait for the first's lock"
            await first.commit()
            with pytest.raises(AlertStateConflictError):
                await contender
            await second.rollback()

        async with sessions() as check:
            staged = await check.scalar(
                select(func.count()).where(
                    OutboxMessage.envelope["payload"]["content"]["alert_id"].astext == str(alert.id)
                )
            )
        assert staged == 1
