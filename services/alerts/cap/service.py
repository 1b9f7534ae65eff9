"""CAP Updates and Cancels from other systems, applied to the alert they reference.

A received Update or Cancel names earlier messages in ``references`` as
``sender,identifier,sent`` triples (space-separated). Tawny finds the alert they belong to (an
original, or a follow-up of one), and issues its own Update or Cancel of it, keeping the
received message's sender and identifier so that later messages can reference it in turn. The
client must be allowed to follow the alert up as for one of Tawny's own: an API client of the
organisation that sent the original, or an officer who answers for it. An Update carries the
whole new content; the target stays the original's, since an Update goes to the same people.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import DataError

from services.alerts.authoring.schemas import AlertChange, Cancellation
from services.alerts.authoring.service import AlertService, ReceivedCap
from services.alerts.cap.document import CapMessage
from services.alerts.cap.intake import read_cap
from services.alerts.config import AlertsSettings
from services.alerts.errors import AlertInvalidError, AlertStateConflictError, CapDocumentError
from services.alerts.geography import geography_for
from services.alerts.models import Alert, MsgType
from shared.auth import Principal
from shared.logs import get_logger

log = get_logger(__name__)


async def receive(
    service: AlertService, settings: AlertsSettings, data: bytes, *, client: Principal
) -> Alert:
    """A received CAP document, read (``reading``), understood (``intake``) and applied: an
    Alert becomes a draft, submitted for approval at once unless the client is an officer; an
    Update or Cancel is applied to the alert it references."""
    message = read_cap(data, schema_path=settings.cap_schema(), geography=geography_for(settings))
    try:
        if message.msg_type is not MsgType.ALERT:
            follow_up = await apply_follow_up(service, message, client=client)
            log.info(
                "alerts.cap.follow_up_applied",
                alert_id=str(follow_up.references_id),
                message_id=str(follow_up.id),
                msg_type=follow_up.msg_type.value,
                client_id=str(client.member_id),
            )
            return follow_up
        alert = await service.create_draft(
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
        alert = await service.submit(alert.id, author=client)
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


async def apply_follow_up(
    service: AlertService, message: CapMessage, *, client: Principal
) -> Alert:
    """Issue the Update or Cancel ``message`` asks for; returns Tawny's new message (an
    Update held for officers' approval is returned as submitted)."""
    if await service.find_by_identifier(message.sender, message.identifier) is not None:
        raise AlertStateConflictError(
            "A message with this sender and identifier was received already.",
            identifier=message.identifier[:200],
        )
    original = await _referenced_original(service, message.references)
    received = ReceivedCap(identifier=message.identifier, sender=message.sender, sent=message.sent)
    content = message.alert
    if message.msg_type is MsgType.CANCEL:
        return await service.cancel(
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
            "no_victim_details_confirmed": True,
        }
    )
    return await service.update(original.id, officer=client, change=change, received=received)


async def _referenced_original(service: AlertService, references: tuple[str, ...]) -> Alert:
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
        found = await service.find_by_identifier(sender, identifier)
        if found is None or (found.sent is not None and found.sent != sent_at):
            continue
        original = await service.originals_of(found) or found
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
