"""What follows publication: Updates, outcomes (an Update with AllClear) and Cancels, each
a new CAP message referencing the original and sent to the same recipients; an Update of an
Extreme alert, or of one touching several boroughs, is held for officers' approval as the
original was (approved or returned through ``AlertService.approve`` and
``return_to_draft``). Received CAP Updates and Cancels (``cap.service``) come through here
too, with the sender's identifiers (``ReceivedCap``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.alerts.authoring.policy import approval_gap, approval_record, officers_required
from services.alerts.authoring.schemas import (
    EVENT_NAMES,
    AlertChange,
    Cancellation,
    Outcome,
    default_categories,
)
from services.alerts.authoring.transitions import LIVE, AlertTransitions, tawny_identifier
from services.alerts.errors import AlertForbiddenError, AlertInvalidError, AlertStateConflictError
from services.alerts.models import (
    HEADLINE_MAX_LENGTH,
    Alert,
    AlertState,
    AuditAction,
    CapStatus,
    MsgType,
    ResponseType,
    Severity,
)
from shared.auth import Principal
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ReceivedCap:
    """Who sent a CAP message received from another system, and its identifiers, kept
    verbatim so that later messages can reference it."""

    identifier: str
    sender: str
    sent: datetime


class AlertFollowUps(AlertTransitions):
    """The part of ``AlertService`` that follows a published alert up."""

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

    # --- Updates held for approval: AlertService.approve and return_to_draft come here ---

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


def _update_severity(original: Alert, current: Alert, message: Alert) -> Severity:
    """An Update of an Extreme alert is held like one: Extreme if it ever was or becomes so."""
    severities = (original.severity, current.severity, message.severity)
    return Severity.EXTREME if Severity.EXTREME in severities else message.severity


def _prefixed(prefix: str, headline: str) -> str:
    text = prefix + headline
    return text if len(text) <= HEADLINE_MAX_LENGTH else text[: HEADLINE_MAX_LENGTH - 1] + "…"
