"""CAP in and out: a document received from another system becomes a draft or is applied to
the alert it references, and an alert is served as a CAP document. Flushes, never commits.

A received Update or Cancel names earlier messages in ``references`` as
``sender,identifier,sent`` triples (space-separated). Tawny finds the alert they belong to (an
original, or a follow-up of one), and issues its own Update or Cancel of it, keeping the
received message's sender and identifier so that later messages can reference it in turn. The
client must be allowed to follow the alert up as for one of Tawny's own: an API client of the
organisation that sent the original, or an officer who answers for it. An Update carries the
whole new content; the target stays the original's, since an Update goes to the same people.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.schemas import AlertChange, Cancellation
from services.alerts.authoring.service import AlertService, ReceivedCap
from services.alerts.cap.document import CapMessage, CapResource, to_xml
from services.alerts.cap.intake import read_cap
from services.alerts.config import AlertsSettings
from services.alerts.errors import AlertInvalidError, AlertStateConflictError, CapDocumentError
from services.alerts.geography import geography_for
from services.alerts.images.schemas import image_url
from services.alerts.images.service import ImageService
from services.alerts.models import Alert, AlertState, CapStatus, MsgType, Scope
from shared.auth import Principal
from shared.logs import get_logger

log = get_logger(__name__)

PUBLIC_STATES = (
    AlertState.PUBLISHED,
    AlertState.UPDATED,
    AlertState.CANCELLED,
    AlertState.RESOLVED,
    AlertState.EXPIRED,
)


def is_public(alert: Alert) -> bool:
    """Anyone may read the alert (its CAP document, its pictures): it went out to the public as
    a real alert. Everything else is for staff only."""
    return (
        alert.state in PUBLIC_STATES
        and alert.scope is Scope.PUBLIC
        and alert.cap_status is CapStatus.ACTUAL
    )


class CapService:
    def __init__(self, session: AsyncSession, *, settings: AlertsSettings) -> None:
        self._settings = settings
        self._alerts = AlertService(session, settings=settings)
        self._images = ImageService(session, settings=settings)

    async def get(self, alert_id: uuid.UUID) -> Alert:
        return await self._alerts.get(alert_id)

    async def document_of(self, alert: Alert) -> bytes:
        """The alert as a CAP 1.2 document: an Update or Cancel references the original and the
        updates published before it, and every message names the original's pictures."""
        references: list[Alert] = []
        original = await self._alerts.originals_of(alert)
        if original is not None:
            earlier = [m for m in await self._alerts.follow_ups(original) if m.id != alert.id]
            references = [original, *[m for m in earlier if _before(m, alert)]]
        resources = [
            CapResource(
                description=image.description,
                mime_type=image.mime_type,
                size=image.size_bytes,
                uri=image_url(self._settings.public_base_url, image),
                sha1=image.sha1,
            )
            for image in await self._images.of_alert(alert)
        ]
        return to_xml(
            alert,
            sender_name=self._settings.sender_name,
            references=references,
            resources=resources,
        )

    async def receive(self, data: bytes, *, client: Principal) -> Alert:
        """A received CAP document, read (``reading``), understood (``intake``) and applied: an
        Alert becomes a draft, submitted for approval at once unless the client is an officer;
        an Update or Cancel is applied to the alert it references."""
        settings = self._settings
        message = read_cap(
            data, schema_path=settings.cap_schema(), geography=geography_for(settings)
        )
        try:
            if message.msg_type is not MsgType.ALERT:
                follow_up = await self.apply_follow_up(message, client=client)
                log.info(
                    "alerts.cap.follow_up_applied",
                    alert_id=str(follow_up.references_id),
                    message_id=str(follow_up.id),
                    msg_type=follow_up.msg_type.value,
                    client_id=str(client.member_id),
                )
                return follow_up
            alert = await self._alerts.create_draft(
                message.alert,
                author=client,
                identifier=message.identifier,
                sender=message.sender,
                sent=message.sent,
                crime_type_derived=message.crime_type_derived,
            )
        except DataError as error:
            # Every limit is checked while reading; this is the backstop that keeps a value the
            # checks missed a 4xx (the request's transaction is rolled back either way).
            raise CapDocumentError(
                "A value in the message is longer or larger than Tawny keeps.",
                element="alert",
                reason=str(error.orig)[:200],
            ) from error
        if not alert.author_is_officer:
            # Another system cannot press "submit": what it sends waits for officers at once.
            alert = await self._alerts.submit(alert.id, author=client)
        log.info(
            "alerts.cap.received",
            alert_id=str(alert.id),
            sender=message.sender,
            client_id=str(client.member_id),
            crime_type=alert.crime_type.value,
            crime_type_derived=message.crime_type_derived,
            languages=1 + len(message.alert.translations),
        )
        return alert

    async def apply_follow_up(self, message: CapMessage, *, client: Principal) -> Alert:
        """Issue the Update or Cancel ``message`` asks for; returns Tawny's new message (an
        Update held for officers' approval is returned as submitted)."""
        alerts = self._alerts
        if await alerts.find_by_identifier(message.sender, message.identifier) is not None:
            raise AlertStateConflictError(
                "A message with this sender and identifier was received already.",
                identifier=message.identifier[:200],
            )
        original = await self._referenced_original(message.references)
        received = ReceivedCap(
            identifier=message.identifier, sender=message.sender, sent=message.sent
        )
        content = message.alert
        if message.msg_type is MsgType.CANCEL:
            return await alerts.cancel(
                original.id,
                officer=client,
                cancellation=Cancellation(reason=content.body),
                received=received,
            )
        change = AlertChange.model_validate(
            {
                "headline": content.headline,
                "body": content.body,
                "instruction": content.instruction,
                "web": content.web,
                "contact": content.contact,
                "severity": content.severity,
                "urgency": content.urgency,
                "certainty": content.certainty,
                "suspects": [s.model_dump(exclude_none=True) for s in content.suspects],
                "expires": content.expires,
                # Only a crime type the sender named: a derived one would reclassify by guesswork.
                **({} if message.crime_type_derived else {"crime_type": content.crime_type}),
                "no_victim_details_confirmed": True,
            }
        )
        return await alerts.update(original.id, officer=client, change=change, received=received)

    async def _referenced_original(self, references: tuple[str, ...]) -> Alert:
        if not references:
            raise CapDocumentError("An Update or Cancel must name what it refers to (references).")
        originals: dict[object, Alert] = {}
        for reference in references:
            # The syntax was checked while reading (``reading._references``).
            sender, identifier, sent = reference.split(",")
            try:
                sent_at = datetime.fromisoformat(sent)
            except ValueError as error:
                raise CapDocumentError(
                    "A reference's sent is not a CAP dateTime.", reference=reference[:300]
                ) from error
            found = await self._alerts.find_by_identifier(sender, identifier)
            if found is None or (found.sent is not None and found.sent != sent_at):
                continue
            original = await self._alerts.originals_of(found) or found
            originals[original.id] = original
        if not originals:
            raise AlertInvalidError(
                "The references name no alert Tawny holds.",
                references=[r[:300] for r in references[:10]],
            )
        if len(originals) > 1:
            raise AlertInvalidError("The references name more than one alert.")
        (original,) = originals.values()
        log.info("alerts.cap.follow_up_received", alert_id=str(original.id))
        return original


def _before(earlier: Alert, later: Alert) -> bool:
    if earlier.published_at is None or later.published_at is None:
        return False
    return earlier.published_at < later.published_at
