"""Writing a new alert: the draft (from the web form or a received CAP Alert), checked
against the targeting contract and the author's area, and how it will look on each of its
channels."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from services.alerts.authoring import preview
from services.alerts.authoring.schemas import (
    EVENT_NAMES,
    AlertCreate,
    ChannelPreview,
    EmailPreviewOut,
    PushPreviewOut,
    SmsPreviewOut,
    default_categories,
)
from services.alerts.authoring.transitions import AlertTransitions, tawny_identifier
from services.alerts.errors import AlertForbiddenError, AlertInvalidError, AlertStateConflictError
from services.alerts.models import Alert, AlertState, Audience, AuditAction, Channel, MsgType, Scope
from shared.auth import Principal
from shared.db import utcnow
from shared.logs import get_logger
from shared.sms import alert_sms_text

log = get_logger(__name__)


class AlertCreation(AlertTransitions):
    """The part of ``AlertService`` that writes drafts."""

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


def _area_desc(data: AlertCreate) -> str:
    codes = [*data.target_borough_codes, *data.target_ward_codes]
    shown = ", ".join(codes[:20])
    more = f" and {len(codes) - 20} more" if len(codes) > 20 else ""
    kind = "Boroughs and wards" if data.target_borough_codes else "Wards"
    return f"{kind}: {shown}{more}"[:500]
