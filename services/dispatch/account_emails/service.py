"""Account emails (verification links, password resets) through the same recorded, retried,
exactly-once path as alerts.

The ``dispatch.members`` consumer only records one row per event (``account_emails``, keyed by
the event id, so a redelivered event records nothing new) in its transaction, and wakes the
sender once that committed. The sender, in every dispatch process, loops like a delivery
worker:

1. **claim** due rows under the process's lease (the one claim query,
   ``deliveries.repository.claim_due``), after making rows whose lease lapsed due again (their
   process died);
2. **send** each email on its own SMTP connection (the link is personal: nothing to share);
3. **record** each outcome as soon as it is known, under the claim it answers: ``sent``;
   ``failed`` for a permanent refusal; a temporary failure back to ``created`` with the
   workers' exponential, jittered backoff, ``failed`` after ``max_attempts``. A final status
   forgets the payload (the link is a secret nobody needs any more).

So a commit that fails after the send no longer sends the email twice (nothing is sent inside
the consumer's transaction), a failed send is retried with backoff instead of the event being
redelivered, and a process killed while sending resends only the email on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.account_emails.repository import (
    AccountEmailRepository,
    ClaimedAccountEmail,
)
from services.dispatch.channels.base import Outcome
from services.dispatch.channels.email import EmailChannel
from services.dispatch.deliveries.repository import Lease
from services.dispatch.deliveries.worker import retry_delay
from services.dispatch.models import LAST_ERROR_MAX_LENGTH, AccountEmailKind, DeliveryStatus
from shared.db import session_scope, utcnow
from shared.events import PasswordResetRequested, VerificationEmailRequested
from shared.logs import get_logger

log = get_logger(__name__)

ACCOUNT_EMAILS = Counter(
    "tawny_dispatch_account_emails_total",
    "Emails about a member's account (verification, password reset) handed to the SMTP "
    "server, by kind and outcome (deferred ones are retried)",
    ["kind", "outcome"],
)
# An idle sender looks again this often; a consumer's commit wakes it at once.
POLL_INTERVAL_S = 1.0


@dataclass(frozen=True)
class AccountEmailSettings:
    claim_size: int
    max_attempts: int
    retry_base_delay_s: float
    retry_max_delay_s: float


class AccountEmailService:
    """What the consumer does: record the email to send, nothing more."""

    def __init__(self, session: AsyncSession) -> None:
        self._emails = AccountEmailRepository(session)

    async def request_verification(
        self, requested: VerificationEmailRequested, *, event_id: uuid.UUID
    ) -> bool:
        return await self._emails.record(
            event_id=event_id,
            member_id=requested.member_id,
            kind=AccountEmailKind.VERIFICATION,
            payload=requested.model_dump(mode="json"),
        )

    async def request_password_reset(
        self, requested: PasswordResetRequested, *, event_id: uuid.UUID
    ) -> bool:
        return await self._emails.record(
            event_id=event_id,
            member_id=requested.member_id,
            kind=AccountEmailKind.PASSWORD_RESET,
            payload=requested.model_dump(mode="json"),
        )


class AccountEmailSender:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        email: EmailChannel,
        lease: Lease,
        settings: AccountEmailSettings,
    ) -> None:
        self._sessions = sessions
        self._email = email
        self._lease = lease
        self._settings = settings
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Claim, send and record what is due; return how many were claimed."""
        async with session_scope(self._sessions) as session:
            emails = AccountEmailRepository(session)
            await emails.resume_lapsed()
            claimed = await emails.claim(limit=self._settings.claim_size, lease=self._lease)
        await asyncio.gather(*(self._send_and_record(email) for email in claimed))
        return len(claimed)

    async def run(self) -> None:
        while True:
            try:
                claimed = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch.account_email.sender_failed")
                claimed = 0
            if claimed < self._settings.claim_size:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_INTERVAL_S):
                        await self._wake.wait()
                self._wake.clear()

    def _message(self, email: ClaimedAccountEmail) -> tuple[EmailMessage, str]:
        if email.kind is AccountEmailKind.VERIFICATION:
            verification = VerificationEmailRequested.model_validate(email.payload)
            message = self._email.verification_message(verification, event_id=email.event_id)
            return message, verification.email
        reset = PasswordResetRequested.model_validate(email.payload)
        return self._email.password_reset_message(reset, event_id=email.event_id), reset.email

    async def _send_and_record(self, email: ClaimedAccountEmail) -> None:
        message, to = self._message(email)
        result = await self._email.send_email(message, to=to)
        kind = f"{email.kind.value}_email"
        ACCOUNT_EMAILS.labels(kind, result.outcome.value).inc()
        fields = {"kind": kind, "member_id": str(email.member_id), "attempt": email.attempts}
        status, error, due = DeliveryStatus.SENT, None, None
        if result.outcome is Outcome.REJECTED:
            status, error = DeliveryStatus.FAILED, f"refused: {result.detail}"
            log.warning("dispatch.account_email.rejected", detail=result.detail, **fields)
        elif result.outcome is Outcome.DEFERRED:
            if email.attempts >= self._settings.max_attempts:
                status = DeliveryStatus.FAILED
                error = f"gave up after {email.attempts} attempts: {result.detail}"
            else:
                status, error = DeliveryStatus.CREATED, f"temporary failure: {result.detail}"
                delay_s = retry_delay(
                    email.attempts,
                    base_s=self._settings.retry_base_delay_s,
                    max_s=self._settings.retry_max_delay_s,
                )
                due = utcnow() + timedelta(seconds=max(delay_s, result.retry_after_s or 0.0))
            log.warning("dispatch.account_email.deferred", detail=result.detail, **fields)
        else:
            log.info("dispatch.account_email.sent", **fields)
        async with session_scope(self._sessions) as session:
            await AccountEmailRepository(session).record_outcome(
                email,
                status=status,
                last_error=error[:LAST_ERROR_MAX_LENGTH] if error else None,
                next_attempt_at=due,
            )
