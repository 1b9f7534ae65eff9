"""The rules of writing and publishing alerts. Flushes, never commits: the request commits,
so an alert's new state and the event announcing it are saved together or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.repository import AlertRepository
from services.alerts.authoring.schemas import AlertCreate
from services.alerts.errors import AlertNotFoundError, AlertStateConflictError
from services.alerts.models import Alert, AlertState, MsgType, OutboxMessage
from shared.auth import Principal
from shared.db import utcnow
from shared.events import AlertContent, AlertPublished
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

PRODUCER = "alerts"


class AlertService:
    def __init__(self, session: AsyncSession, *, sender_name: str) -> None:
        self._session = session
        self._alerts = AlertRepository(session)
        self._sender_name = sender_name

    async def create_draft(self, data: AlertCreate, *, author: Principal) -> Alert:
        alert = await self._alerts.add(
            Alert(
                state=AlertState.DRAFT,
                msg_type=MsgType.ALERT,
                headline=data.headline,
                body=data.body,
                crime_type=data.crime_type,
                severity=data.severity,
                urgency=data.urgency,
                target_ward_codes=list(data.target_ward_codes),
                author_id=author.member_id,
                author_pseudonym=author.pseudonym,
            )
        )
        log.info(
            "alerts.alert.drafted",
            alert_id=str(alert.id),
            author_id=str(author.member_id),
            crime_type=alert.crime_type.value,
            ward_count=len(alert.target_ward_codes),
        )
        return alert

    async def get(self, alert_id: uuid.UUID) -> Alert:
        alert = await self._alerts.get(alert_id)
        if alert is None:
            raise AlertNotFoundError("There is no alert with this id.", alert_id=str(alert_id))
        return alert

    async def list_newest_first(
        self, *, state: AlertState | None, limit: int, offset: int
    ) -> Sequence[Alert]:
        return await self._alerts.list_newest_first(state=state, limit=limit, offset=offset)

    async def publish(self, alert_id: uuid.UUID, *, publisher: Principal) -> Alert:
        """Publish a draft and stage ``AlertPublished`` in the same transaction.

        The row lock makes a second, concurrent publish wait and then find the alert already
        published, so an alert is announced once however often the button is pressed."""
        alert = await self._alerts.get_for_update(alert_id)
        if alert is None:
            raise AlertNotFoundError("There is no alert with this id.", alert_id=str(alert_id))
        if alert.state is not AlertState.DRAFT:
            raise AlertStateConflictError(
                f"Only a draft can be published; this alert is {alert.state.value}.",
                alert_id=str(alert.id),
                state=alert.state.value,
            )
        published_at = utcnow()
        alert.state = AlertState.PUBLISHED
        alert.published_at = published_at
        envelope = await add_event(
            self._session,
            OutboxMessage,
            AlertPublished(
                content=AlertContent(
                    alert_id=alert.id,
                    msg_type=alert.msg_type.value,
                    headline=alert.headline,
                    body=alert.body,
                    category=alert.crime_type.value,
                    severity=alert.severity.value,
                    urgency=alert.urgency.value,
                    sender_name=self._sender_name,
                    sent_at=published_at,
                ),
                target_ward_codes=list(alert.target_ward_codes),
            ),
            producer=PRODUCER,
        )
        log.info(
            "alerts.alert.published",
            alert_id=str(alert.id),
            event_id=str(envelope.event_id),
            publisher_id=str(publisher.member_id),
            ward_count=len(alert.target_ward_codes),
        )
        return alert
