"""Geo's reports on resolving alerts' targets, and officers' retries after a failure.

Alerts refuses a target the contract (``shared.targeting``) refuses, so a part geo reports it
could not use means something changed after publishing (geo's boundary set lost a ward, a bug).
The rest of the alert went out; the message's ``targeting`` shows what failed, and once it is
fixed an officer asks geo to resolve the alert again (``alert.targeting_retry_requested``).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.events import PRODUCER, published_event
from services.alerts.authoring.policy import Policy
from services.alerts.authoring.repository import AlertRepository
from services.alerts.config import AlertsSettings
from services.alerts.errors import (
    AlertForbiddenError,
    AlertNotFoundError,
    AlertStateConflictError,
)
from services.alerts.models import Alert, AlertState, CapStatus, MsgType, OutboxMessage
from services.alerts.targeting.repository import TargetingRepository
from shared.auth import Principal
from shared.db import utcnow
from shared.events import AudienceResolved, TargetingRetryRequested
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

# Published alerts whose audience may still be widened.
RETRYABLE = (AlertState.PUBLISHED, AlertState.UPDATED)


async def record_report(session: AsyncSession, report: AudienceResolved) -> bool:
    """Keep geo's latest report on a message; False for a message this service never wrote
    or a report older than the one kept."""
    kept = await TargetingRepository(session).keep_latest(
        report.alert_id,
        reported_at=report.resolved_at,
        recipients=report.recipients,
        failures=[f.model_dump() for f in report.failures],
    )
    if report.failures:
        log.warning(
            "alerts.targeting.failed",
            alert_id=str(report.alert_id),
            event_id=str(report.event_id),
            recipients=report.recipients,
            failures=len(report.failures),
            fields=[f.field for f in report.failures],
            kept=kept,
        )
    else:
        log.info(
            "alerts.targeting.resolved",
            alert_id=str(report.alert_id),
            recipients=report.recipients,
            kept=kept,
        )
    return kept


class TargetingService:
    def __init__(self, session: AsyncSession, *, settings: AlertsSettings) -> None:
        self._session = session
        self._alerts = AlertRepository(session)
        self._settings = settings
        self._policy = Policy.for_settings(settings)

    async def retry(self, alert_id: uuid.UUID, *, officer: Principal) -> Alert:
        """Ask geo to resolve a published alert whose targeting failed again, in the same
        transaction as the request time (so a second press while geo works is refused)."""
        alert = await self._alerts.get_for_update(alert_id)
        if alert is None or alert.msg_type is not MsgType.ALERT:
            raise AlertNotFoundError("There is no alert with this id.", alert_id=str(alert_id))
        if not (self._policy.may_act_for(officer, alert) or alert.author_id == officer.member_id):
            raise AlertForbiddenError("Only its author or an officer of its area may retry it.")
        if alert.state not in RETRYABLE or alert.cap_status is not CapStatus.ACTUAL:
            raise AlertStateConflictError(
                f"An alert that is {alert.state.value} is not being delivered; nothing to retry.",
                state=alert.state.value,
            )
        if alert.targeting_retry_requested_at is not None and (
            alert.targeting_reported_at is None
            or alert.targeting_reported_at < alert.targeting_retry_requested_at
        ):
            raise AlertStateConflictError(
                "A retry is already under way: wait for geo's report.",
                retry_requested_at=alert.targeting_retry_requested_at.isoformat(),
            )
        if not alert.targeting_failures:
            raise AlertStateConflictError(
                "Every part of this alert's target was resolved: nothing to retry."
                if alert.targeting_reported_at is not None
                else "Geo has not reported on this alert yet: nothing to retry.",
            )
        alert.targeting_retry_requested_at = utcnow()
        await add_event(
            self._session,
            OutboxMessage,
            published_event(
                alert,
                original=None,
                sender_name=self._settings.sender_name,
                event=TargetingRetryRequested,
            ),
            producer=PRODUCER,
        )
        await self._session.flush()
        log.info(
            "alerts.targeting.retry_requested",
            alert_id=str(alert.id),
            officer_id=str(officer.member_id),
            failures=len(alert.targeting_failures),
        )
        return alert
