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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring import preview
from services.alerts.authoring.policy import (
    Policy,
    approval_gap,
    approval_record,
    officers_required,
    signed_officers,
)
from services.alerts.authoring.repository import AlertFilters, AlertRepository
from services.alerts.authoring.schemas import (
    EVENT_NAMES,
    AlertChange,
    AlertCreate,
    Cancellation,
    ChannelPreview,
    EmailPreviewOut,
    Outcome,
    PushPreviewOut,
    SmsPreviewOut,
    default_categories,
)
from services.alerts.config import AlertsSettings
from services.alerts.dashboard.service import DASHBOARD_ACTIONS, DashboardService
from services.alerts.errors import (
    AlertForbiddenError,
    AlertInvalidError,
    AlertNotFoundError,
    AlertStateConflictError,
    AlertTargetInvalidError,
)
from services.alerts.geography import geography_for
from services.alerts.models import (
    HEADLINE_MAX_LENGTH,
    Alert,
    AlertState,
    Audience,
    AuditAction,
    AuditEntry,
    CapStatus,
    Channel,
    CrimeType,
    MsgType,
    OutboxMessage,
    ResponseType,
    Scope,
    Severity,
)
from services.alerts.webhooks.service import CallbackRecorder
from shared import targeting
from shared.auth import Principal
from shared.db import utcnow
from shared.events import (
    AlertContent,
    AlertPublished,
    AlertTranslation,
    TargetCircle,
    TargetPolygon,
)
from shared.logs import get_logger
from shared.outbox import add_event
from shared.pagination import Cursor
from shared.sms import alert_sms_text

log = get_logger(__name__)

PRODUCER = "alerts"
LIVE = (AlertState.PUBLISHED, AlertState.UPDATED)
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


def tawny_identifier(alert_id: uuid.UUID) -> str:
    return f"urn:uuid:{alert_id}"


@dataclass(frozen=True)
class ReceivedCap:
    """Who sent a CAP message received from another system, and its identifiers, kept
    verbatim so that later messages can reference it."""

    identifier: str
    sender: str
    sent: datetime


class AlertService:
    def __init__(self, session: AsyncSession, *, settings: AlertsSettings) -> None:
        self._session = session
        self._alerts = AlertRepository(session)
        self._settings = settings
        self._geography = geography_for(settings)
        self._policy = Policy.for_settings(settings)
        self._callbacks = CallbackRecorder(session)

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

    def preview(self, data: AlertCreate) -> ChannelPreview:
        """How the alert will look on each of its channels."""
        name = self._settings.sender_name
        result = ChannelPreview()
        if Channel.EMAIL in data.channels:
            email = preview.email_preview(data.headline, name)
            result.email = EmailPreviewOut(
                subject=email.subject, subject_truncated=email.subject_truncated
            )
        if Channel.SMS in data.channels:
            # The text as dispatch will send it, cut to the segments it allows.
            sms = preview.sms_preview(
                alert_sms_text(
                    msg_type="Alert",
                    severity=data.severity.value,
                    sender_name=name,
                    headline=data.headline,
                    instruction=data.instruction,
                    body=data.body,
                    web=data.web,
                )
            )
            result.sms = SmsPreviewOut(
                text=sms.text,
                encoding="GSM-7" if sms.encoding == "GSM-7" else "UCS-2",
                units=sms.units,
                segments=sms.segments,
                non_gsm_characters=list(sms.non_gsm_characters),
            )
        if Channel.PUSH in data.channels:
            push = preview.push_preview(data.headline, data.body)
            result.push = PushPreviewOut(
                title=push.title,
                body=push.body,
                title_truncated=push.title_truncated,
                body_truncated=push.body_truncated,
            )
        return result

    # --- writing ------------------------------------------------------------------------

    async def create_draft(
        self,
        data: AlertCreate,
        *,
        author: Principal,
        identifier: str | None = None,
        sender: str | None = None,
        sent: datetime | None = None,
        crime_type_derived: bool = False,
    ) -> Alert:
        """A draft, by someone who may author for every part of its target. ``identifier``,
        ``sender`` and ``sent`` are kept from a CAP document received from another system,
        and ``crime_type_derived`` says its crime type was derived rather than given."""
        if not self._policy.may_author(author):
            raise AlertForbiddenError("Only officers, coordinators and partners write alerts.")
        self._require_usable_target(
            ward_codes=data.target_ward_codes,
            borough_codes=data.target_borough_codes,
            circles=[c.model_dump() for c in data.target_circles],
            polygons=data.target_polygons,
        )
        if not self._policy.covers(
            author, ward_codes=data.target_ward_codes, borough_codes=data.target_borough_codes
        ):
            raise AlertForbiddenError(
                "The target reaches beyond your own area.",
                area_wards=len(author.area_ward_codes),
                area_boroughs=len(author.area_borough_codes),
            )
        now = utcnow()
        expires = data.expires or now + timedelta(days=self._settings.default_expiry_days)
        if identifier is None and expires <= now:
            raise AlertInvalidError("The expiry must be in the future.")
        if expires > now + timedelta(days=self._settings.max_expiry_days):
            raise AlertInvalidError(
                f"An alert may be current for at most {self._settings.max_expiry_days} days."
            )
        if (
            sender is not None
            and identifier is not None
            and await self._alerts.get_by_identifier(sender, identifier) is not None
        ):
            raise AlertStateConflictError(
                "An alert with this sender and identifier was received already.",
                identifier=identifier,
            )
        alert_id = uuid.uuid4()
        restricted = data.audience is Audience.COORDINATORS
        touched = self._geography.touched(
            ward_codes=data.target_ward_codes,
            borough_codes=data.target_borough_codes,
            circles=[c.model_dump() for c in data.target_circles],
            polygons=data.target_polygons,
        )
        alert = await self._alerts.add(
            Alert(
                id=alert_id,
                identifier=identifier or tawny_identifier(alert_id),
                sender=sender or self._settings.cap_sender,
                sent=sent,
                cap_status=data.cap_status,
                msg_type=MsgType.ALERT,
                scope=Scope.RESTRICTED if restricted else Scope.PUBLIC,
                restriction="Tawny coordinators" if restricted else None,
                language=data.language,
                categories=[
                    c.value for c in data.categories or default_categories(data.crime_type)
                ],
                event=data.event or EVENT_NAMES[data.crime_type],
                response_types=[r.value for r in data.response_types],
                urgency=data.urgency,
                severity=data.severity,
                certainty=data.certainty,
                headline=data.headline,
                body=data.body,
                instruction=data.instruction,
                web=data.web,
                contact=data.contact,
                expires=expires,
                translations=[t.model_dump(mode="json") for t in data.translations],
                area_desc=data.area_desc or _area_desc(data),
                target_ward_codes=list(data.target_ward_codes),
                target_borough_codes=list(data.target_borough_codes),
                target_circles=[c.model_dump(mode="json") for c in data.target_circles],
                target_polygons=data.target_polygons,
                touched_ward_codes=sorted(touched.ward_codes),
                touched_borough_codes=sorted(touched.borough_codes),
                state=AlertState.DRAFT,
                crime_type=data.crime_type,
                crime_type_derived=crime_type_derived,
                reference=data.reference,
                audience=data.audience,
                channels=[c.value for c in data.channels],
                suspects=[s.model_dump(mode="json", exclude_none=True) for s in data.suspects],
                no_victim_details_confirmed=data.no_victim_details_confirmed,
                author_id=author.member_id,
                author_pseudonym=author.pseudonym,
                author_is_officer=self._policy.is_officer(author),
                author_kind=self._policy.author_kind(author),
                author_borough_codes=sorted(
                    self._policy.boroughs_signed_by(author, touched.borough_codes)
                ),
                author_organisation_id=author.organisation_id,
                approvals=[],
                approver_ids=[],
            )
        )
        await self._record(alert, AuditAction.DRAFTED, None, author)
        log.info(
            "alerts.alert.drafted",
            alert_id=str(alert.id),
            author_id=str(author.member_id),
            crime_type=alert.crime_type.value,
            ward_count=len(alert.target_ward_codes),
            borough_count=len(alert.touched_borough_codes),
        )
        return alert

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

    async def update(
        self,
        alert_id: uuid.UUID,
        *,
        officer: Principal,
        change: AlertChange,
        received: ReceivedCap | None = None,
    ) -> Alert:
        """Issue an Update: a new message referencing the original, to the same recipients.

        An Update of an Extreme alert (or one made Extreme), or of one touching several
        boroughs, needs two officers' sign-off from every touched borough, as the original
        did: the asking officer's counts first, and the message waits as submitted until the
        rest approve it. ``received``: the Update came as CAP from another system, whose
        client may be ``officer`` (see ``_live_original``)."""
        original = await self._live_original(alert_id, officer, action="updated", received=received)
        await self._refuse_second_pending_update(original)
        current = await self._current(original)
        fields = change.model_dump(exclude_unset=True, exclude={"no_victim_details_confirmed"})
        if "expires" in fields and fields["expires"] is not None and fields["expires"] <= utcnow():
            raise AlertInvalidError("The expiry must be in the future.")
        message = self._follow_up(original, current, MsgType.UPDATE, received=received)
        for name, value in fields.items():
            if name == "suspects":
                value = [
                    s.model_dump(mode="json", exclude_none=True) for s in change.suspects or []
                ]
            setattr(message, name, value)
        if change.crime_type is not None and change.crime_type is not current.crime_type:
            # The CAP event and categories name the crime: they follow it.
            message.event = EVENT_NAMES[change.crime_type]
            message.categories = [c.value for c in default_categories(change.crime_type)]
            message.crime_type_derived = False
        return await self._release_or_hold(
            original, current, message, officer, release_state=AlertState.UPDATED
        )

    async def resolve(self, alert_id: uuid.UUID, *, officer: Principal, outcome: Outcome) -> Alert:
        """The outcome ("a suspect has been arrested, thank you") to everyone who received it.
        An all-clear is an Update too, held like one: a wrong "found safe" about an Extreme
        alert would stop people looking."""
        original = await self._live_original(alert_id, officer, action="resolved")
        await self._refuse_second_pending_update(original)
        current = await self._current(original)
        message = self._follow_up(original, current, MsgType.UPDATE)
        message.headline = outcome.headline or _prefixed("Resolved: ", current.headline)
        message.body = outcome.body
        message.instruction = None
        message.response_types = [ResponseType.ALL_CLEAR.value]
        message.suspects = []
        return await self._release_or_hold(
            original, current, message, officer, release_state=AlertState.RESOLVED
        )

    async def cancel(
        self,
        alert_id: uuid.UUID,
        *,
        officer: Principal,
        cancellation: Cancellation,
        received: ReceivedCap | None = None,
    ) -> Alert:
        """Cancel at once: stopping a wrong alert must never wait for a second officer."""
        original = await self._live_original(
            alert_id, officer, action="cancelled", received=received
        )
        current = await self._current(original)
        message = self._follow_up(original, current, MsgType.CANCEL, received=received)
        message.headline = _prefixed("Cancelled: ", current.headline)
        message.body = cancellation.reason
        message.instruction = None
        message.suspects = []
        return await self._issue(
            original,
            message,
            AlertState.CANCELLED,
            AuditAction.CANCELLED,
            officer,
            note=cancellation.reason[:500],
        )

    # --- inside -------------------------------------------------------------------------

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

    async def _approve_update(self, message: Alert, officer: Principal) -> Alert:
        if message.state is not AlertState.SUBMITTED:
            raise AlertStateConflictError(
                "Only an Update held for approval can be approved; act on the original alert.",
                alert_id=str(message.id),
                state=message.state.value,
            )
        original = await self._held_update_original(message)
        if message.approvals and str(officer.member_id) == str(message.approvals[0]["officer_id"]):
            raise AlertForbiddenError("Nobody approves their own update.")
        self._add_approval(message, officer, original=original)
        current = await self._current(original)
        gap = approval_gap(message, severity=_update_severity(original, current, message))
        if gap.closed:
            await self._record(
                original, AuditAction.APPROVED, original.state, officer, message_id=message.id
            )
            return await self._release(original, message, officer)
        await self._record(
            original,
            AuditAction.APPROVED,
            original.state,
            officer,
            message_id=message.id,
            note=f"update held: {gap.describe()}",
        )
        return message

    async def _return_update(self, message: Alert, officer: Principal, reason: str) -> Alert:
        """Turn down an Update held for approval; it is kept, as a draft nobody receives."""
        if message.state is not AlertState.SUBMITTED:
            raise AlertStateConflictError(
                "Only an Update held for approval can be returned.",
                alert_id=str(message.id),
                state=message.state.value,
            )
        original = await self._held_update_original(message)
        self._require_officer_covering(officer, original)
        message.state = AlertState.DRAFT
        await self._record(
            original,
            AuditAction.RETURNED,
            original.state,
            officer,
            message_id=message.id,
            note=reason,
        )
        return message

    async def _held_update_original(self, message: Alert) -> Alert:
        assert message.references_id is not None
        original = await self._alerts.get_for_update(message.references_id)
        assert original is not None, "an Update references an existing alert"
        if original.state not in LIVE:
            raise AlertStateConflictError(
                f"The alert is {original.state.value}; this update can no longer go out.",
                alert_id=str(original.id),
                state=original.state.value,
            )
        return original

    async def _refuse_second_pending_update(self, original: Alert) -> None:
        held = await self._alerts.held_update(original.id)
        if held is not None:
            raise AlertStateConflictError(
                "An update of this alert is waiting for approval; approve or return it first.",
                alert_id=str(original.id),
                held_update_id=str(held.id),
            )

    async def _release_or_hold(
        self,
        original: Alert,
        current: Alert,
        message: Alert,
        officer: Principal,
        *,
        release_state: AlertState,
    ) -> Alert:
        """Send an Update now, or hold it for officers' approval when the alert is (or is
        made) Extreme or touches several boroughs; the asking officer's sign-off counts."""
        message.release_state = release_state
        severity = _update_severity(original, current, message)
        if officers_required(message, severity=severity) == 1:
            return await self._release(original, message, officer)
        if self._policy.is_officer(officer):
            message.approvals = [
                approval_record(
                    officer,
                    self._policy.boroughs_signed_by(officer, message.touched_borough_codes),
                    utcnow().isoformat(),
                )
            ]
        gap = approval_gap(message, severity=severity)
        message.state = AlertState.SUBMITTED
        await self._alerts.add(message)
        await self._record(
            original,
            AuditAction.SUBMITTED,
            original.state,
            officer,
            message_id=message.id,
            note=f"{release_state.value} message held: {gap.describe()}",
        )
        log.info(
            "alerts.alert.update_held",
            alert_id=str(original.id),
            message_id=str(message.id),
            release_state=release_state.value,
            officer_id=str(officer.member_id),
        )
        return message

    async def _release(self, original: Alert, message: Alert, officer: Principal) -> Alert:
        if message.release_state is AlertState.RESOLVED:
            return await self._issue(
                original, message, AlertState.RESOLVED, AuditAction.RESOLVED, officer
            )
        original.expires = message.expires
        return await self._issue(
            original, message, AlertState.UPDATED, AuditAction.UPDATED, officer
        )

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

    async def _live_original(
        self,
        alert_id: uuid.UUID,
        officer: Principal,
        *,
        action: str,
        received: ReceivedCap | None = None,
    ) -> Alert:
        """The live original, locked, if ``officer`` may follow it up: an officer who answers
        for it, or, for CAP received from another system, its client when the original came
        from the same organisation."""
        alert = await self._locked(alert_id, *LIVE, action=action)
        same_organisation = (
            received is not None
            and officer.organisation_id is not None
            and officer.organisation_id == alert.author_organisation_id
        )
        if not same_organisation:
            self._require_officer_covering(officer, alert)
        if alert.cap_status is not CapStatus.ACTUAL:
            raise AlertStateConflictError(
                "Only Actual alerts have follow-ups.", cap_status=alert.cap_status.value
            )
        return alert

    async def _current(self, original: Alert) -> Alert:
        follow_ups = await self._alerts.follow_ups(original.id)
        return follow_ups[-1] if follow_ups else original

    def _follow_up(
        self,
        original: Alert,
        current: Alert,
        msg_type: MsgType,
        *,
        received: ReceivedCap | None = None,
    ) -> Alert:
        message_id = uuid.uuid4()
        copied = {
            column: getattr(current, column)
            for column in (
                "cap_status",
                "scope",
                "restriction",
                "language",
                "categories",
                "event",
                "response_types",
                "urgency",
                "severity",
                "certainty",
                "headline",
                "body",
                "instruction",
                "web",
                "contact",
                "expires",
                "translations",
                "area_desc",
                "target_ward_codes",
                "target_borough_codes",
                "target_circles",
                "target_polygons",
                "touched_ward_codes",
                "touched_borough_codes",
                "crime_type",
                "reference",
                "audience",
                "channels",
                "suspects",
                "author_id",
                "author_pseudonym",
                "author_is_officer",
                "author_kind",
                "author_organisation_id",
            )
        }
        # Other languages would now say something else than the update: drop them.
        copied["translations"] = []
        return Alert(
            **copied,
            id=message_id,
            identifier=received.identifier if received else tawny_identifier(message_id),
            sender=received.sender if received else self._settings.cap_sender,
            sent=received.sent if received else None,
            msg_type=msg_type,
            references_id=original.id,
            no_victim_details_confirmed=True,
            author_borough_codes=[],
            approvals=[],
            approver_ids=[],
        )

    async def _issue(
        self,
        original: Alert,
        message: Alert,
        state: AlertState,
        action: AuditAction,
        officer: Principal,
        note: str | None = None,
    ) -> Alert:
        now = utcnow()
        message.state = AlertState.PUBLISHED
        message.published_at = now
        message.sent = message.sent or now
        await self._alerts.add(message)
        await self._stage(message, original=original)
        await self._move(original, state, action, officer, message_id=message.id, note=note)
        log.info(
            "alerts.alert.follow_up",
            alert_id=str(original.id),
            message_id=str(message.id),
            msg_type=message.msg_type.value,
            action=action.value,
            officer_id=str(officer.member_id),
        )
        return message

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


def _update_severity(original: Alert, current: Alert, message: Alert) -> Severity:
    """An Update of an Extreme alert is held like one: Extreme if it ever was or becomes so."""
    severities = (original.severity, current.severity, message.severity)
    return Severity.EXTREME if Severity.EXTREME in severities else message.severity


def _prefixed(prefix: str, headline: str) -> str:
    text = prefix + headline
    return text if len(text) <= HEADLINE_MAX_LENGTH else text[: HEADLINE_MAX_LENGTH - 1] + "…"


def _area_desc(data: AlertCreate) -> str:
    codes = [*data.target_borough_codes, *data.target_ward_codes]
    shown = ", ".join(codes[:20])
    more = f" and {len(codes) - 20} more" if len(codes) > 20 else ""
    kind = "Boroughs and wards" if data.target_borough_codes else "Wards"
    return f"{kind}: {shown}{more}"[:500]


def published_event(
    message: Alert,
    *,
    original: Alert | None,
    sender_name: str,
    event: type[AlertPublished] = AlertPublished,
) -> AlertPublished:
    """What geo resolves for ``message``: its content and (for an Update or Cancel, the
    original's) target. ``event`` is AlertPublished, or TargetingRetryRequested for a retry."""
    assert message.sent is not None
    target = original or message
    return event(
        content=AlertContent(
            alert_id=message.id,
            msg_type=message.msg_type.value,
            headline=message.headline,
            body=message.body,
            category=message.crime_type.value,
            severity=message.severity.value,
            urgency=message.urgency.value,
            sender_name=sender_name,
            sent_at=message.sent,
            references=original.id if original else None,
            instruction=message.instruction,
            contact=message.contact,
            web=message.web,
            expires=message.expires,
            language=message.language,
            translations=[
                AlertTranslation(
                    language=t["language"],
                    headline=t["headline"],
                    body=t["description"],
                    instruction=t.get("instruction"),
                )
                for t in message.translations
            ],
        ),
        target_ward_codes=list(target.target_ward_codes),
        target_borough_codes=list(target.target_borough_codes),
        target_circles=[
            TargetCircle(lat=c["lat"], lon=c["lon"], radius_m=c["radius_km"] * 1000)
            for c in target.target_circles
        ],
        target_polygons=[
            TargetPolygon(coordinates=[[[lon, lat] for lat, lon in ring]])
            for ring in target.target_polygons
        ],
    )
