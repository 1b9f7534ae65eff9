"""The rules of writing, approving and publishing alerts, and of what follows publication.
Flushes, never commits: the request commits, so an alert's new state, its audit entry and the
event announcing it are saved together or not at all.

The workflow (every other move is refused with 409):

    draft ──submit──▶ submitted ──approve (every touched borough, enough officers)──▶ approved
    draft/approved ──publish──▶ published      draft/approved ──schedule──▶ scheduled
    submitted/approved ──return──▶ draft       scheduled ──unschedule──▶ approved or draft
    scheduled ──(its time)──▶ published
    published/updated ──update──▶ updated (a new Update message goes out), or, for an Extreme
        alert or one touching several boroughs, the Update waits (submitted) until officers
        approve it as they would the original; then it goes out
    published/updated ──resolve──▶ resolved (an Update with AllClear goes out), or waits
        for approval as an Update does
    published/updated ──cancel──▶ cancelled (a Cancel message goes out at once, always)
    published/updated ──(expires)──▶ expired

An officer's draft is published straight away (by any officer covering its target) when the
author's own sign-off is enough (see ``policy``); any other draft goes through submit and
approve.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from services.alerts.authoring.creation import AlertCreation
from services.alerts.authoring.follow_ups import AlertFollowUps, ReceivedCap
from services.alerts.authoring.policy import approval_gap, officers_required
from services.alerts.authoring.repository import AlertFilters
from services.alerts.authoring.transitions import LIVE
from services.alerts.dashboard.service import DashboardService
from services.alerts.errors import (
    AlertForbiddenError,
    AlertInvalidError,
    AlertNotFoundError,
    AlertStateConflictError,
)
from services.alerts.models import (
    Alert,
    AlertState,
    AuditAction,
    AuditEntry,
    CapStatus,
    CrimeType,
    MsgType,
)
from shared.auth import Principal
from shared.db import utcnow
from shared.logs import get_logger
from shared.pagination import Cursor

log = get_logger(__name__)

# ReceivedCap (follow_ups) is re-exported: CAP's service imports it from here.
__all__ = ["SCHEDULER_BATCH", "AlertService", "ReceivedCap"]

# Before approval, or once published (see ``AlertService.reclassify``).
RECLASSIFIABLE = (
    AlertState.DRAFT,
    AlertState.SUBMITTED,
    *LIVE,
    AlertState.RESOLVED,
    AlertState.CANCELLED,
    AlertState.EXPIRED,
)
SCHEDULER_BATCH = 100


class AlertService(AlertCreation, AlertFollowUps):
    """Reading alerts and moving them through the workflow this module's docstring draws.
    Writing a draft is inherited from ``AlertCreation`` (``creation``), following a published
    alert up from ``AlertFollowUps`` (``follow_ups``); what every move shares is
    ``AlertTransitions`` (``transitions``), and the event geo resolves is built in ``events``."""

    # --- reading ------------------------------------------------------------------------

    async def get(self, alert_id: uuid.UUID) -> Alert:
        alert = await self._alerts.get(alert_id)
        if alert is None:
            raise AlertNotFoundError("There is no alert with this id.", alert_id=str(alert_id))
        return alert

    async def find_by_identifier(self, sender: str, identifier: str) -> Alert | None:
        return await self._alerts.get_by_identifier(sender, identifier)

    async def list_newest_first(
        self,
        *,
        filters: AlertFilters | None = None,
        limit: int,
        offset: int = 0,
        cursor: Cursor | None = None,
    ) -> Sequence[Alert]:
        return await self._alerts.list_newest_first(
            filters=filters, limit=limit, offset=offset, cursor=cursor
        )

    async def audit(self, alert_id: uuid.UUID) -> Sequence[AuditEntry]:
        await self.get(alert_id)
        return await self._alerts.audit(alert_id)

    async def follow_ups(self, alert: Alert) -> Sequence[Alert]:
        return await self._alerts.follow_ups(alert.id)

    async def originals_of(self, alert: Alert) -> Alert | None:
        return None if alert.references_id is None else await self.get(alert.references_id)

    # --- the workflow -------------------------------------------------------------------

    async def submit(self, alert_id: uuid.UUID, *, author: Principal) -> Alert:
        alert = await self._locked(alert_id, AlertState.DRAFT, action="submitted")
        if alert.author_id != author.member_id:
            raise AlertForbiddenError("Only the author submits their draft for approval.")
        self._require_usable_target_of(alert)
        return await self._move(alert, AlertState.SUBMITTED, AuditAction.SUBMITTED, author)

    async def approve(self, alert_id: uuid.UUID, *, officer: Principal) -> Alert:
        """One officer's sign-off for the touched boroughs they command. The alert is approved
        once every touched borough is signed off and enough different officers have; an Update
        held for approval goes out at that moment."""
        held = await self._alerts.get_for_update(alert_id)
        if held is not None and held.msg_type is MsgType.UPDATE:
            return await self._approve_update(held, officer)
        alert = await self._locked(alert_id, AlertState.SUBMITTED, action="approved")
        if alert.author_id == officer.member_id:
            raise AlertForbiddenError("Nobody approves their own alert.")
        self._add_approval(alert, officer, original=alert)
        gap = approval_gap(alert)
        return await self._move(
            alert,
            AlertState.APPROVED if gap.closed else AlertState.SUBMITTED,
            AuditAction.APPROVED,
            officer,
            note=None if gap.closed else gap.describe(),
        )

    async def reclassify(
        self, alert_id: uuid.UUID, *, officer: Principal, crime_type: CrimeType
    ) -> Alert:
        """An officer corrects the crime type before approval (received CAP's derived one,
        most often) or once published, when what was sent stays as it was but the records and
        the dashboard must say what the crime was; audited with the old and new types.
        Between approval and publication it may not change: the approval covered it.

        A published alert's follow-ups take the correction too: the next Update copies the
        latest, and the dashboard counts the alert under its current message's type."""
        alert = await self._locked(alert_id, *RECLASSIFIABLE, action="reclassified")
        self._require_officer_covering(officer, alert)
        previous = alert.crime_type
        alert.crime_type = crime_type
        alert.crime_type_derived = False
        await self._alerts.set_follow_ups_crime_type(alert.id, crime_type)
        await self._session.flush()
        if alert.published_at is not None:
            await DashboardService(self._session, settings=self._settings).recount(alert.id)
        await self._record(
            alert,
            AuditAction.RECLASSIFIED,
            alert.state,
            officer,
            note=f"crime type {previous.value} -> {crime_type.value}",
        )
        log.info(
            "alerts.alert.reclassified",
            alert_id=str(alert.id),
            officer_id=str(officer.member_id),
            crime_type=crime_type.value,
        )
        return alert

    async def return_to_draft(
        self, alert_id: uuid.UUID, *, officer: Principal, reason: str
    ) -> Alert:
        held = await self._alerts.get_for_update(alert_id)
        if held is not None and held.msg_type is MsgType.UPDATE:
            return await self._return_update(held, officer, reason)
        alert = await self._locked(
            alert_id, AlertState.SUBMITTED, AlertState.APPROVED, action="returned to draft"
        )
        self._require_officer_covering(officer, alert)
        alert.approver_ids = []
        alert.approvals = []
        return await self._move(alert, AlertState.DRAFT, AuditAction.RETURNED, officer, note=reason)

    async def publish(self, alert_id: uuid.UUID, *, publisher: Principal) -> Alert:
        """Publish now, staging ``AlertPublished`` in the same transaction.

        The row lock makes a second, concurrent publish wait and then find the alert already
        published, so an alert is announced once however often the button is pressed."""
        alert = await self._locked(
            alert_id, AlertState.DRAFT, AlertState.APPROVED, action="published"
        )
        self._require_may_release(publisher, alert)
        self._require_usable_target_of(alert)
        return await self._publish(alert, publisher)

    async def schedule(
        self, alert_id: uuid.UUID, *, publisher: Principal, publish_at: datetime
    ) -> Alert:
        alert = await self._locked(
            alert_id, AlertState.DRAFT, AlertState.APPROVED, action="scheduled"
        )
        self._require_may_release(publisher, alert)
        self._require_usable_target_of(alert)
        now = utcnow()
        if publish_at <= now:
            raise AlertInvalidError("A scheduled time must be in the future; publish it now.")
        if publish_at >= alert.expires:
            raise AlertInvalidError("The alert would have expired by its scheduled time.")
        alert.scheduled_for = publish_at
        return await self._move(
            alert,
            AlertState.SCHEDULED,
            AuditAction.SCHEDULED,
            publisher,
            note=publish_at.isoformat(),
        )

    async def unschedule(self, alert_id: uuid.UUID, *, officer: Principal) -> Alert:
        alert = await self._locked(alert_id, AlertState.SCHEDULED, action="unscheduled")
        self._require_officer_covering(officer, alert)
        alert.scheduled_for = None
        back = AlertState.APPROVED if alert.approvals else AlertState.DRAFT
        return await self._move(alert, back, AuditAction.UNSCHEDULED, officer)

    async def publish_due(self, now: datetime) -> int:
        """Publish scheduled alerts whose time has come (the scheduler calls this)."""
        due = await self._alerts.due_for_publishing(now, limit=SCHEDULER_BATCH)
        for alert in due:
            await self._publish(alert, None)
        return len(due)

    async def expire_due(self, now: datetime) -> int:
        """Mark live alerts past their expiry as expired. Nothing is sent: CAP recipients
        already know the expiry, and residents are not told that an alert went stale."""
        due = await self._alerts.due_for_expiry(now, limit=SCHEDULER_BATCH)
        for alert in due:
            await self._move(alert, AlertState.EXPIRED, AuditAction.EXPIRED, None)
            log.info("alerts.alert.expired", alert_id=str(alert.id))
        return len(due)

    # --- inside -------------------------------------------------------------------------

    def _require_may_release(self, publisher: Principal, alert: Alert) -> None:
        self._require_officer_covering(publisher, alert)
        if alert.state is AlertState.DRAFT:
            if not alert.author_is_officer:
                raise AlertStateConflictError(
                    "This draft needs an officer's approval first: submit it.",
                    alert_id=str(alert.id),
                )
            gap = approval_gap(alert)
            if not gap.closed:
                raise AlertStateConflictError(
                    "An Extreme alert, or one touching a borough beyond the author's or more "
                    f"than one, needs more approval: submit it ({gap.describe()}).",
                    alert_id=str(alert.id),
                    officers_required=officers_required(alert),
                )

    async def _publish(self, alert: Alert, publisher: Principal | None) -> Alert:
        now = utcnow()
        alert.published_at = now
        alert.sent = alert.sent or now
        # Exercises, tests and drafts are kept and served as CAP but reach no resident.
        if alert.cap_status is CapStatus.ACTUAL:
            await self._stage(alert, original=None)
        await self._move(alert, AlertState.PUBLISHED, AuditAction.PUBLISHED, publisher)
        log.info(
            "alerts.alert.published",
            alert_id=str(alert.id),
            publisher_id=str(publisher.member_id) if publisher else None,
            scheduled=publisher is None,
            ward_count=len(alert.target_ward_codes),
        )
        return alert
