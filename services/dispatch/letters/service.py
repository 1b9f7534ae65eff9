"""Posting address-verification letters: the code identity generated, to the address the
member gave, through the letter provider. Dispatch keeps the letter's status and the
provider's id for it; the address and the code go to the provider and nowhere else (not the
database, not the logs).

Once only. A letter is recorded under identity's letter id in the transaction that also
records the event as handled, so the same request twice (a redelivery, or a new event for the
same letter) posts one letter. The window: a process that dies after the provider accepted the
letter and before that transaction commits posts it again when the event is retried (one
letter, since events are handled one at a time).

Flushes, never commits: the consumer owns the transaction."""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.channels.base import Outcome
from services.dispatch.channels.notify import LETTER_ADDRESS_LINES, NotifyClient
from services.dispatch.errors import ChannelUnavailableError
from services.dispatch.letters.repository import LetterRepository
from services.dispatch.models import LetterStatus
from shared.db import utcnow
from shared.events import AddressLetterRequested
from shared.logs import get_logger

log = get_logger(__name__)

LETTERS = Counter(
    "tawny_dispatch_letters_total",
    "Address-verification letters, by outcome (deferred ones are retried)",
    ["outcome"],
)
EXPIRES_FORMAT = "%-d %B %Y"


def letter_address(request: AddressLetterRequested) -> list[str]:
    """The name, the address lines and the postcode, in at most seven lines (Notify's limit):
    extra middle lines are joined onto the last address line."""
    lines = [line.strip() for line in request.address_lines if line.strip()]
    room = LETTER_ADDRESS_LINES - 2
    if len(lines) > room:
        lines = [*lines[: room - 1], ", ".join(lines[room - 1 :])]
    return [request.recipient_name.strip(), *lines, request.postcode.strip().upper()]


class LetterService:
    def __init__(self, session: AsyncSession, notify: NotifyClient) -> None:
        self._letters = LetterRepository(session)
        self._notify = notify

    async def post(self, request: AddressLetterRequested) -> LetterStatus:
        """Send the letter unless it was sent already; return its status. A temporary failure
        raises :class:`ChannelUnavailableError`, so the consumer tries the event again."""
        existing = await self._letters.get(request.letter_id)
        if existing is not None:
            log.info(
                "dispatch.letter.duplicate_ignored",
                letter_id=str(request.letter_id),
                status=existing.status.value,
            )
            return existing.status
        if request.expires_at <= utcnow():
            await self._letters.record(
                letter_id=request.letter_id,
                member_id=request.member_id,
                status=LetterStatus.FAILED,
                last_error="the code expired before the letter could be posted",
            )
            LETTERS.labels("expired").inc()
            return LetterStatus.FAILED
        result = await self._notify.send_letter(
            address_lines=letter_address(request),
            personalisation={
                "name": request.recipient_name,
                "code": request.code,
                "expires": request.expires_at.strftime(EXPIRES_FORMAT),
            },
            reference=str(request.letter_id),
        )
        LETTERS.labels(result.outcome.value).inc()
        if result.outcome is Outcome.DEFERRED:
            log.warning(
                "dispatch.letter.deferred", letter_id=str(request.letter_id), detail=result.detail
            )
            raise ChannelUnavailableError(
                "The letter could not be handed to the provider.", reason=result.detail
            )
        status = LetterStatus.SENT if result.outcome is Outcome.ACCEPTED else LetterStatus.FAILED
        await self._letters.record(
            letter_id=request.letter_id,
            member_id=request.member_id,
            status=status,
            provider_reference=result.provider_reference,
            last_error=None if status is LetterStatus.SENT else f"refused: {result.detail}",
            sent_at=utcnow() if status is LetterStatus.SENT else None,
        )
        log.info(
            "dispatch.letter.sent" if status is LetterStatus.SENT else "dispatch.letter.refused",
            letter_id=str(request.letter_id),
            member_id=str(request.member_id),
            detail=result.detail,
        )
        return status
