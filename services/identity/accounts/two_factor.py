"""TOTP two-factor authentication: enrolment, recovery codes, and checking a sign-in code.
Flushes, never commits.

The secret is kept AES-GCM encrypted; recovery codes only as SHA-256 (they are long random
strings, so a fast hash is enough). A TOTP code is accepted once: the step it belongs to is
remembered and older or equal steps are refused afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity import totp
from services.identity.accounts.repository import RecoveryCodeRepository
from services.identity.audit.service import AuditLog
from services.identity.config import IdentitySettings
from services.identity.crypto import DataCipher
from services.identity.errors import InvalidCodeError, TwoFactorStateError
from services.identity.models import Member
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)

RECOVERY_CODE_COUNT = 10
TOTP_PURPOSE = "member.totp_secret"


def hash_recovery_code(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def new_recovery_code() -> str:
    raw = secrets.token_hex(5)
    return f"{raw[:5]}-{raw[5:]}"


class TwoFactorService:
    def __init__(self, session: AsyncSession, settings: IdentitySettings) -> None:
        self._session = session
        self._cipher = DataCipher.from_settings(settings)
        self._recovery_codes = RecoveryCodeRepository(session)
        self._audit = AuditLog(session)

    async def start_enrolment(self, member: Member, *, account_label: str) -> tuple[str, str]:
        """A new secret (replacing an unconfirmed one): its base32 form and otpauth:// URI."""
        if member.totp_enabled_at is not None:
            raise TwoFactorStateError("Two-factor authentication is on already.")
        secret = totp.new_secret()
        member.totp_secret_encrypted = self._cipher.encrypt(secret, purpose=TOTP_PURPOSE)
        member.totp_last_step = None
        await self._session.flush()
        return totp.base32(secret), totp.provisioning_uri(secret, account=account_label)

    async def confirm_enrolment(self, member: Member, code: str) -> list[str]:
        """The first good code switches TOTP on; returns the recovery codes, shown only now."""
        if member.totp_enabled_at is not None or member.totp_secret_encrypted is None:
            raise TwoFactorStateError("Start enrolment first.")
        if not self._accept_totp(member, code):
            raise InvalidCodeError()
        member.totp_enabled_at = utcnow()
        codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        await self._recovery_codes.replace(member.id, [hash_recovery_code(c) for c in codes])
        await self._audit.record(
            "two_factor.enabled", actor_id=member.id, subject=f"member:{member.id}"
        )
        log.info("identity.two_factor.enabled", member_id=str(member.id))
        return codes

    async def regenerate_recovery_codes(self, member: Member, code: str) -> list[str]:
        """New recovery codes for a current TOTP code; the old ones stop working."""
        if member.totp_enabled_at is None:
            raise TwoFactorStateError("Two-factor authentication is not on.")
        if not self._accept_totp(member, code):
            raise InvalidCodeError()
        codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        await self._recovery_codes.replace(member.id, [hash_recovery_code(c) for c in codes])
        await self._audit.record(
            "two_factor.recovery_codes_regenerated",
            actor_id=member.id,
            subject=f"member:{member.id}",
        )
        return codes

    async def reset(self, member: Member, *, actor_id: uuid.UUID, reason: str) -> None:
        """A platform admin switches TOTP off for a member who lost their phone and codes:
        they enrol again; a staff member meanwhile signs in without their staff roles."""
        member.totp_secret_encrypted = None
        member.totp_enabled_at = None
        member.totp_last_step = None
        await self._recovery_codes.replace(member.id, [])
        await self._audit.record(
            "two_factor.reset",
            actor_id=actor_id,
            subject=f"member:{member.id}",
            details={"reason": reason},
        )
        log.info("identity.two_factor.reset", member_id=str(member.id))

    async def check_sign_in_code(
        self, member: Member, *, totp_code: str | None, recovery_code: str | None
    ) -> bool:
        if totp_code:
            return self._accept_totp(member, totp_code)
        if recovery_code:
            spent = await self._recovery_codes.spend(member.id, hash_recovery_code(recovery_code))
            if spent:
                await self._audit.record(
                    "two_factor.recovery_code_used",
                    actor_id=member.id,
                    subject=f"member:{member.id}",
                )
            return spent
        return False

    def _accept_totp(self, member: Member, code: str) -> bool:
        assert member.totp_secret_encrypted is not None
        secret = self._cipher.decrypt(member.totp_secret_encrypted, purpose=TOTP_PURPOSE)
        step = totp.matching_step(secret, code, after_step=member.totp_last_step)
        if step is None:
            return False
        member.totp_last_step = step
        return True
