"""Registering where alerts reach a member beyond email: a UK mobile number, proved by a
six-digit code sent to it by SMS, and an app installation's FCM registration token.

The code. Six random digits, valid for ``sms_code_ttl_s`` and ``sms_code_max_tries`` wrong
guesses (so a guesser has at most tries-in-a-million per code), and one new code per
``sms_code_resend_s`` per member.

Nobody's phone can be flooded through Tawny: every request that gets this far counts against the
number (``sms_codes_per_number`` per ``sms_code_limit_window_min``, whichever members ask, keyed
by an HMAC of the number), and past the limit no text is sent, while the answer and what is
stored are the same as for a code that was sent (a confirmation waiting for a code nobody has).
So neither the answer nor the confirmation that follows tells whether the number is limited,
registered, or someone else's. Only an Argon2 hash of it is stored, so reading the database does not
confirm anyone's number. The code goes to the provider before the request's transaction
commits: a commit that then fails leaves the member with a code that doesn't work, and they ask
again; a code that was never sent is never stored.

Flushes, never commits: the request owns the transaction."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.channels.base import Outcome
from services.dispatch.channels.notify import NotifyClient
from services.dispatch.config import DEFAULT_DEVICES_PER_CHANNEL, DispatchSettings
from services.dispatch.errors import (
    ChannelUnavailableError,
    ConfirmationExpiredError,
    NoPendingConfirmationError,
    PhoneNumberRefusedError,
    TooSoonError,
    WrongCodeError,
)
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.members.schemas import mask_phone
from services.dispatch.members.service import MemberEndpointService
from services.dispatch.models import ChannelKind, MemberEndpoint
from services.dispatch.registrations.repository import RegistrationRepository
from services.dispatch.registrations.schemas import PhoneConfirmationStarted
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)

# A code lives minutes and allows a handful of tries: a light hash is plenty, and keeps a
# request's CPU small.
_hasher = PasswordHasher(type=Type.ID, time_cost=2, memory_cost=19_456, parallelism=1)
CODE_SMS = (
    "Your Tawny code is {code}. Enter it to get alerts by text on this number. It expires in "
    "{minutes} minutes. If you did not ask for it, ignore this message."
)


@dataclass(frozen=True)
class CodeSettings:
    ttl_s: float
    max_tries: int
    resend_s: float
    per_number: int
    limit_window_min: int
    # Keys the HMAC under which requests per number are counted.
    number_key: bytes

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> CodeSettings:
        return cls(
            ttl_s=settings.sms_code_ttl_s,
            max_tries=settings.sms_code_max_tries,
            resend_s=settings.sms_code_resend_s,
            per_number=settings.sms_codes_per_number,
            limit_window_min=settings.sms_code_limit_window_min,
            # Dispatch's one secret, put to a second use under its own label.
            number_key=hmac.new(
                settings.unsubscribe_key_value, b"phone-code-limit", hashlib.sha256
            ).digest(),
        )

    def count_key(self, phone_number: str) -> str:
        return hmac.new(self.number_key, phone_number.encode(), hashlib.sha256).hexdigest()


def _matches(code_hash: str, code: str) -> bool:
    try:
        return _hasher.verify(code_hash, code)
    except (VerificationError, InvalidHashError):
        return False


class RegistrationService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        notify: NotifyClient | None,
        codes: CodeSettings,
        devices_per_channel: int = DEFAULT_DEVICES_PER_CHANNEL,
    ) -> None:
        self._session = session
        self._devices_per_channel = devices_per_channel
        self._registrations = RegistrationRepository(session)
        self._endpoints = MemberEndpointRepository(session)
        self._notify = notify
        self._codes = codes

    async def request_phone_code(
        self, member_id: uuid.UUID, phone_number: str
    ) -> PhoneConfirmationStarted:
        if self._notify is None:
            raise ChannelUnavailableError("SMS is not available on this platform.")
        now = utcnow()
        pending = await self._registrations.pending_for(member_id, lock=True)
        if pending is not None:
            wait_s = self._codes.resend_s - (now - pending.created_at).total_seconds()
            if wait_s > 0:
                raise TooSoonError(
                    "A code was sent moments ago; wait before asking for another.",
                    headers={"Retry-After": str(int(wait_s) + 1)},
                )
        code = f"{secrets.randbelow(1_000_000):06d}"
        expires_at = now + timedelta(seconds=self._codes.ttl_s)
        await self._registrations.start_confirmation(
            member_id=member_id,
            phone_number=phone_number,
            code_hash=await asyncio.to_thread(_hasher.hash, code),
            expires_at=expires_at,
            tries=self._codes.max_tries,
        )
        started = PhoneConfirmationStarted(
            phone_number=mask_phone(phone_number),
            expires_at=expires_at,
            tries=self._codes.max_tries,
        )
        if not await self._number_allows_another_code(phone_number, now):
            return started
        result = await self._notify.send_sms(
            phone_number=phone_number,
            body=CODE_SMS.format(code=code, minutes=round(self._codes.ttl_s / 60)),
            reference=f"phone-confirmation-{uuid.uuid4()}",
        )
        if result.outcome is Outcome.DEFERRED:
            raise ChannelUnavailableError(
                "The code could not be sent just now; try again shortly.", reason=result.detail
            )
        if result.outcome is Outcome.REJECTED:
            raise PhoneNumberRefusedError("The SMS provider can't send to this number.")
        log.info("dispatch.phone.code_sent", member_id=str(member_id))
        return started

    async def _number_allows_another_code(self, phone_number: str, now: datetime) -> bool:
        requests = await self._registrations.count_code_request(
            self._codes.count_key(phone_number),
            at=now,
            window_started_after=now - timedelta(minutes=self._codes.limit_window_min),
        )
        if requests > self._codes.per_number:
            log.info("dispatch.phone.code_limit_reached", requests=requests)
            return False
        return True

    async def confirm_phone(self, member_id: uuid.UUID, code: str) -> MemberEndpoint:
        """The member's number becomes their SMS endpoint; returns it. A wrong code uses up a
        try and raises ``WrongCodeError``: the caller runs this in
        ``session_scope(..., kept_on=(WrongCodeError,))`` so that the try sticks."""
        pending = await self._registrations.pending_for(member_id, lock=True)
        if pending is None:
            raise NoPendingConfirmationError("Ask for a code first (PUT /endpoints/me/sms).")
        if pending.expires_at <= utcnow() or pending.tries_left <= 0:
            raise ConfirmationExpiredError("This code can't be used any more; ask for a new one.")
        if not await asyncio.to_thread(_matches, pending.code_hash, code):
            tries_left = pending.tries_left - 1
            await self._registrations.use_a_try(member_id)
            raise WrongCodeError("That code is not right.", tries_left=tries_left)
        await self._endpoints.record_verified(
            member_id=member_id,
            channel=ChannelKind.SMS,
            address=pending.phone_number,
            verified_at=utcnow(),
        )
        await self._registrations.end_confirmation(member_id)
        log.info("dispatch.endpoint.recorded", member_id=str(member_id), channel="sms")
        endpoint = await self._endpoints.one_of_member(member_id, ChannelKind.SMS)
        assert endpoint is not None, "recorded just now, in this transaction"
        return endpoint

    async def register_fcm(self, member_id: uuid.UUID, token: str) -> MemberEndpoint:
        """The app installation's token, beside the member's other installations (the same
        token registered again changes nothing)."""
        return await MemberEndpointService(self._session).register_device(
            member_id,
            ChannelKind.FCM,
            identity=token,
            address=token,
            limit=self._devices_per_channel,
        )
