"""Limits per recipient address, so that Tawny cannot be used to flood someone's inbox.

Every request that could email an address counts against that address, whether or not it
belongs to a member and whether or not an email follows, so the answer (always the same) and
the work done reveal nothing. Past ``emails_per_address`` requests of one kind in a window, no
email of that kind goes to the address until the window ends.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.config import IdentitySettings
from services.identity.crypto import PersonalData
from services.identity.sending.repository import RecipientSendRepository
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)


class EmailKind(StrEnum):
    VERIFICATION = "verification"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a kind of email, not a password)


class RecipientLimit:
    def __init__(self, session: AsyncSession, settings: IdentitySettings) -> None:
        self._repository = RecipientSendRepository(session)
        self._settings = settings
        self._personal = PersonalData.from_settings(settings)

    async def allows(self, kind: EmailKind, email: str) -> bool:
        """Count this request for ``email``; False when the address has had its share."""
        now = utcnow()
        requests = await self._repository.count_request(
            f"{kind.value}:{self.key_of(email)}",
            at=now,
            window_started_after=now - timedelta(minutes=self._settings.email_limit_window_min),
        )
        if requests > self._settings.emails_per_address:
            log.info("identity.recipient_limit.reached", kind=kind.value, requests=requests)
            return False
        return True

    def key_of(self, email: str) -> str:
        """The address as counted: identity's keyed blind index, never the address itself."""
        return self._personal.email_index(email)
