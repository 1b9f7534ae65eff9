"""Password reset. Flushes, never commits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.accounts.repository import PasswordResetRepository
from services.identity.config import IdentitySettings
from services.identity.errors import ResetTokenInvalidError
from services.identity.members.repository import MemberRepository
from services.identity.members.service import MemberService
from services.identity.models import OutboxMessage
from services.identity.passwords import hash_password
from services.identity.sending.service import EmailKind, RecipientLimit
from services.identity.tokens.repository import RefreshTokenRepository
from shared.db import utcnow
from shared.events import PasswordResetRequested
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

PRODUCER = "identity"
RESET_PATH = "/reset-password#token="


def hash_reset_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PasswordResetService:
    def __init__(self, session: AsyncSession, settings: IdentitySettings) -> None:
        self._session = session
        self._settings = settings
        self._members = MemberRepository(session)
        self._resets = PasswordResetRepository(session)

    async def request(self, email: str) -> None:
        """Email a reset link if the address belongs to a verified member; the caller is never
        told which. Unverified accounts get nothing: verifying sets their password anyway."""
        members = MemberService(self._session, self._settings)
        allowed = await RecipientLimit(self._session, self._settings).allows(
            EmailKind.PASSWORD_RESET, email
        )
        member = await members.find_by_email(email)
        if member is None or not member.email_verified or not allowed:
            log.info("identity.password_reset.ignored")
            return
        token = secrets.token_urlsafe(32)
        await self._resets.add(
            member_id=member.id,
            token_hash=hash_reset_token(token),
            expires_at=utcnow() + timedelta(minutes=self._settings.password_reset_ttl_min),
        )
        await add_event(
            self._session,
            OutboxMessage,
            PasswordResetRequested(
                member_id=member.id,
                email=members.email_of(member),
                pseudonym=member.pseudonym,
                reset_url=f"{self._settings.public_base_url}{RESET_PATH}{token}",
            ),
            producer=PRODUCER,
        )
        log.info("identity.password_reset.requested", member_id=str(member.id))

    async def complete(self, token: str, new_password: str) -> None:
        """Set the new password; every refresh token of the member is revoked, so a thief who
        had the old password is signed out within one access-token lifetime."""
        reset = await self._resets.get_for_update(hash_reset_token(token))
        now = utcnow()
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            raise ResetTokenInvalidError()
        member = await self._members.get(reset.member_id)
        if member is None:
            raise ResetTokenInvalidError()
        await self._resets.spend_all(member.id, now)
        await self._members.set_password_hash(member, await hash_password(new_password))
        await RefreshTokenRepository(self._session).revoke_member(member.id, now)
        log.info("identity.password_reset.completed", member_id=str(member.id))
