"""What every move of an alert shares: finding it locked in a state that allows the move,
checking the target and the officer, changing its state with an audit entry and a partner's
callback in the same transaction, recording an officer's sign-off, and staging the event
geo resolves. ``creation``, ``follow_ups`` and ``service`` build on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.events import PRODUCER, published_event
from services.alerts.authoring.policy import Policy, approval_record, signed_officers
from services.alerts.authoring.repository import AlertRepository
from services.alerts.config import AlertsSettings
from services.alerts.dashboard.service import DASHBOARD_ACTIONS, DashboardService
from services.alerts.errors import (
    AlertForbiddenError,
    AlertNotFoundError,
    AlertStateConflictError,
    AlertTargetInvalidError,
)
from services.alerts.geography import geography_for
from services.alerts.models import (
    Alert,
    AlertState,
    AuditAction,
    AuditEntry,
    MsgType,
    OutboxMessage,
)
from services.alerts.webhooks.service import CallbackRecorder
from shared import targeting
from shared.auth import Principal
from shared.db import utcnow
from shared.outbox import add_event

LIVE = (AlertState.PUBLISHED, AlertState.UPDATED)


def tawny_identifier(alert_id: uuid.UUID) -> str:
    return f"urn:uuid:{alert_id}"


class AlertTransitions:
    """The parts of ``AlertService`` that every kind of move uses; bound to a session,
    flushes, never commits."""

    def __init__(self, session: AsyncSession, *, settings: AlertsSettings) -> None:
        self._session = session
        self._alerts = AlertRepository(session)
        self._settings = settings
        self._geography = geography_for(settings)
        self._policy = Policy.for_settings(settings)
        self._callbacks = CallbackRecorder(session)

    async def _locked(self, alert_id: uuid.UUID, *allowed: AlertState, action: str) -> Alert:
        alert = await self._alerts.get_for_update(alert_id)
        if alert is None:
            raise AlertNotFoundError("There is no alert with this id.", alert_id=str(alert_id))
        if alert.msg_type is not MsgType.ALERT:
            raise AlertStateConflictError(
                "This is an Update or Cancel message; act on the original alert.",
                alert_id=str(alert.id),
                references=str(alert.references_id),
            )
        if alert.state not in allowed:
            raise AlertStateConflictError(
                f"An alert that is {alert.state.value} cannot be {action}; that needs "
                f"{' or '.join(state.value for state in allowed)}.",
                alert_id=str(alert.id),
                state=alert.state.value,
            )
        return alert

    def _require_usable_target(
        self,
        *,
        ward_codes: Sequence[str],
        borough_codes: Sequence[str],
        circles: Sequence[Mapping[str, float]],
        polygons: Sequence[Sequence[Sequence[float]]],
    ) -> None:
        """The targeting contract, against the boundaries this process loaded: checked when a
        draft is written or received as CAP and again before it is submitted, scheduled or
        published (the files may have changed meanwhile), so nothing geo would refuse goes
        out. A scheduled alert whose target goes bad before its time still goes out: geo then
        delivers its usable parts and reports the rest (``audience.resolved``)."""
        problems = targeting.check_target(
            targeting.Target(
                ward_codes=ward_codes,
                borough_codes=borough_codes,
                circles=[
                    targeting.TargetCircle(c["lat"], c["lon"], c["radius_km"] * 1000)
                    for c in circles
                ],
                polygons=[targeting.TargetPolygon(ring) for ring in polygons],
            ),
            self._geography.target_boundaries,
        )
        if problems:
            raise AlertTargetInvalidError(problems)

    def _require_usable_target_of(self, alert: Alert) -> None:
        self._require_usable_target(
            ward_codes=alert.target_ward_codes,
            borough_codes=alert.target_borough_codes,
            circles=alert.target_circles,
            polygons=alert.target_polygons,
        )

    def _require_officer_covering(self, officer: Principal, alert: Alert) -> None:
        if not self._policy.is_officer(officer):
            raise AlertForbiddenError("Only an officer may do this.")
        if not self._policy.may_act_for(officer, alert):
            raise AlertForbiddenError("The alert's target reaches beyond your own area.")

    def _add_approval(self, message: Alert, officer: Principal, *, original: Alert) -> None:
        """Record one officer's sign-off on ``message`` (an alert, or an Update of
        ``original``), refusing anyone who may not give it."""
        if not self._policy.is_officer(officer):
            raise AlertForbiddenError("Only an officer may do this.")
        touched = message.touched_borough_codes
        boroughs = self._policy.boroughs_signed_by(officer, touched)
        if touched and not boroughs:
            raise AlertForbiddenError(
                "None of the boroughs this alert touches is yours to approve.",
                touched_boroughs=sorted(touched),
            )
        if not touched and not self._policy.covers_alert(officer, original):
            raise AlertForbiddenError("The alert's target reaches beyond your own area.")
        if str(officer.member_id) in signed_officers(message.approvals):
            raise AlertStateConflictError(
                "You have signed this off already; another officer must approve it.",
                alert_id=str(message.id),
            )
        message.approvals = [
            *message.approvals,
            approval_record(officer, boroughs, utcnow().isoformat()),
        ]
        message.approver_ids = [*message.approver_ids, officer.member_id]

    async def _stage(self, message: Alert, *, original: Alert | None) -> None:
        await add_event(
            self._session,
            OutboxMessage,
            published_event(message, original=original, sender_name=self._settings.sender_name),
            producer=PRODUCER,
        )

    async def _move(
        self,
        alert: Alert,
        state: AlertState,
        action: AuditAction,
        actor: Principal | None,
        *,
        message_id: uuid.UUID | None = None,
        note: str | None = None,
    ) -> Alert:
        before = alert.state
        alert.state = state
        await self._session.flush()
        await self._record(alert, action, before, actor, message_id=message_id, note=note)
        if action in DASHBOARD_ACTIONS:
            await DashboardService(self._session, settings=self._settings).recount(alert.id)
        return alert

    async def _record(
        self,
        alert: Alert,
        action: AuditAction,
        before: AlertState | None,
        actor: Principal | None,
        *,
        message_id: uuid.UUID | None = None,
        note: str | None = None,
    ) -> None:
        await self._alerts.add_audit(
            AuditEntry(
                alert_id=alert.id,
                message_id=message_id,
                action=action,
                from_state=before.value if before else None,
                to_state=alert.state.value,
                actor_id=actor.member_id if actor else None,
                actor_pseudonym=actor.pseudonym if actor else None,
                note=note,
                at=utcnow(),
            )
        )
        # Every move worth telling a partner about is audited here: its callback is recorded
        # in the same transaction.
        await self._callbacks.alert_moved(alert, action, message_id=message_id)
