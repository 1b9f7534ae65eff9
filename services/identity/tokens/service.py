"""Signing keys, the public key set, and signing in. Flushes, never commits."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.accounts.two_factor import TwoFactorService
from services.identity.audit.service import AuditLog
from services.identity.config import IdentitySettings
from services.identity.crypto import SIGNING_KEY_PURPOSE, DataCipher
from services.identity.errors import (
    AccountSuspendedError,
    EmailNotVerifiedError,
    InvalidCredentialsError,
    RefreshTokenInvalidError,
    ServiceUnavailableError,
    TwoFactorRequiredError,
)
from services.identity.members.repository import MemberRepository
from services.identity.members.service import MemberService
from services.identity.models import (
    LEGACY_ADMIN_ROLE,
    STAFF_ROLES,
    Member,
    OrganisationKind,
    Role,
    SigningKey,
)
from services.identity.organisations.repository import OrganisationRepository
from services.identity.passwords import (
    hash_password,
    needs_rehash,
    spend_verification_time,
    verify_password,
)
from services.identity.tokens.repository import RefreshTokenRepository, SigningKeyRepository
from services.identity.tokens.schemas import JsonWebKey, JsonWebKeySet
from services.identity.tokens.throttle import SignInThrottle
from shared.auth import SIGNING_ALGORITHMS
from shared.db import session_scope, utcnow
from shared.logs import get_logger
from shared.settings import Environment

log = get_logger(__name__)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_x(private_key: Ed25519PrivateKey) -> str:
    return _b64url(private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def key_thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 JWK: a key id that names the key itself."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class KeyRotationPlan:
    kid: str
    signs_from: datetime
    retiring_kids: list[str]
    retire_at: datetime


class SigningKeyService:
    """The keys that sign access tokens. Their private halves are stored encrypted with
    identity's data keys (``IDENTITY_DATA_KEYS``), so a copy of the database signs nothing."""

    def __init__(self, session: AsyncSession, settings: IdentitySettings) -> None:
        self._keys = SigningKeyRepository(session)
        self._cipher = DataCipher.from_settings(settings)

    def _load_private_key(self, key: SigningKey) -> Ed25519PrivateKey:
        pem = self._cipher.decrypt(key.private_key_encrypted, purpose=SIGNING_KEY_PURPOSE)
        private_key = load_pem_private_key(pem, password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ServiceUnavailableError(f"Signing key {key.kid} is not an Ed25519 key.")
        return private_key

    async def ensure_active_key(self) -> str:
        """The kid of the key that signs, creating the first one if there is none."""
        await self._keys.lock_key_creation()
        existing = await self._keys.newest_active(utcnow())
        if existing is not None:
            return existing.kid
        return await self._create()

    async def rotate(self, *, publish_ahead: timedelta, grace: timedelta) -> KeyRotationPlan:
        """A new key is published now and signs after ``publish_ahead`` (every service's JWKS
        cache has it by then); the previous keys stay published for ``grace`` after that, so
        the tokens they signed keep verifying, and then retire."""
        await self._keys.lock_key_creation()
        signs_from = utcnow() + publish_ahead
        kid = await self._create(signs_from=signs_from)
        retire_at = signs_from + grace
        retiring = await self._keys.schedule_retirement(except_kid=kid, at=retire_at)
        log.info("identity.signing_key.rotated", kid=kid, retiring=retiring)
        return KeyRotationPlan(
            kid=kid, signs_from=signs_from, retiring_kids=retiring, retire_at=retire_at
        )

    async def _create(self, signs_from: datetime | None = None) -> str:
        private_key = Ed25519PrivateKey.generate()
        kid = key_thumbprint(_public_x(private_key))
        await self._keys.add(
            kid=kid,
            private_key_encrypted=self._cipher.encrypt(
                private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
                purpose=SIGNING_KEY_PURPOSE,
            ),
            signs_from=signs_from,
        )
        log.info("identity.signing_key.created", kid=kid)
        return kid

    async def signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        key = await self._keys.newest_active(utcnow())
        if key is None:
            raise ServiceUnavailableError("Identity has no signing key yet; try again shortly.")
        return key.kid, self._load_private_key(key)

    async def public_keys(self) -> JsonWebKeySet:
        return JsonWebKeySet(
            keys=[
                JsonWebKey(kid=key.kid, x=_public_x(self._load_private_key(key)))
                for key in await self._keys.published(utcnow())
            ]
        )


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    roles: list[str]
    # Staff roles are left out of the token until the member has enrolled TOTP.
    two_factor_enrolment_required: bool = False


def token_roles(member: Member, *, include_staff: bool) -> list[str]:
    roles = {role for role in member.roles if include_staff or role not in STAFF_ROLES}
    if not roles:
        roles = {Role.RESIDENT.value}
    if Role.PLATFORM_ADMIN in roles:
        roles.add(LEGACY_ADMIN_ROLE)
    return sorted(roles)


class TokenService:
    def __init__(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._session = session
        self._settings = settings
        self._sessions = sessions
        self._members = MemberRepository(session)
        self._organisations = OrganisationRepository(session)
        self._refresh_tokens = RefreshTokenRepository(session)
        self._keys = SigningKeyService(session, settings)

    def _independent(self) -> async_sessionmaker[AsyncSession]:
        assert self._sessions is not None, "this operation records outside the request"
        return self._sessions

    async def sign_in(
        self,
        email: str,
        password: str,
        *,
        client_ip: str | None,
        totp_code: str | None = None,
        recovery_code: str | None = None,
    ) -> IssuedToken:
        throttle = SignInThrottle(
            self._independent(),
            email=email,
            client_ip=client_ip,
            ip_free_failures=self._settings.sign_in_free_failures_per_ip,
        )
        await throttle.check()
        member = await MemberService(self._session, self._settings).find_by_email(email)
        if member is None:
            await spend_verification_time(password)
            await throttle.failed()
            log.info("identity.sign_in.refused", reason="unknown_email")
            raise InvalidCredentialsError()
        if not await verify_password(member.password_hash, password):
            await throttle.failed()
            log.info("identity.sign_in.refused", reason="wrong_password", member_id=str(member.id))
            raise InvalidCredentialsError()
        if not member.email_verified:
            log.info("identity.sign_in.refused", reason="unverified", member_id=str(member.id))
            raise EmailNotVerifiedError()
        if member.suspended:
            log.info("identity.sign_in.refused", reason="suspended", member_id=str(member.id))
            raise AccountSuspendedError()
        include_staff = True
        if member.is_staff and not self.totp_exempt(member):
            if member.totp_enabled_at is None:
                include_staff = False
            elif not await TwoFactorService(self._session, self._settings).check_sign_in_code(
                member, totp_code=totp_code, recovery_code=recovery_code
            ):
                if totp_code or recovery_code:
                    await throttle.failed()
                log.info("identity.sign_in.refused", reason="two_factor", member_id=str(member.id))
                raise TwoFactorRequiredError()
        await throttle.succeeded()
        if needs_rehash(member.password_hash):
            await self._members.set_password_hash(member, await hash_password(password))
        token = await self.issue(member, include_staff=include_staff)
        log.info("identity.sign_in.succeeded", member_id=str(member.id), staff_roles=include_staff)
        return token

    def totp_exempt(self, member: Member) -> bool:
        """Seeded development members skip TOTP; never in production."""
        return (
            member.totp_exempt
            and self._settings.seeded_members_skip_totp
            and self._settings.environment is not Environment.PRODUCTION
        )

    async def refresh(self, refresh_token: str) -> IssuedToken:
        """Swap a refresh token for a new pair. A token used before means it was copied: the
        whole family is revoked, and that stays so although the caller gets a 401.

        The old token is spent in its own transaction, which commits the reuse revocation
        before the refusal goes on (``kept_on``); if issuing the new pair then fails, the member
        signs in again: safe, if inconvenient.
        """
        now = utcnow()
        independent = self._independent()
        async with session_scope(independent, kept_on=(RefreshTokenInvalidError,)) as session:
            tokens = RefreshTokenRepository(session)
            token = await tokens.get_for_update(hash_refresh_token(refresh_token))
            if token is None or token.revoked_at is not None or token.expires_at <= now:
                raise RefreshTokenInvalidError()
            member_id, family_id = token.member_id, token.family_id
            if token.used_at is not None:
                revoked = await tokens.revoke_family(family_id, now)
                await AuditLog(session).record(
                    "refresh_token.reuse_detected",
                    actor_id=None,
                    subject=f"member:{member_id}",
                    details={"family_id": str(family_id), "revoked": revoked},
                )
                log.warning(
                    "identity.refresh_token.reused",
                    member_id=str(member_id),
                    family_id=str(family_id),
                )
                raise RefreshTokenInvalidError()
            await tokens.mark_used(token, now)
        member = await self._members.get(member_id)
        if member is None or member.suspended:
            raise RefreshTokenInvalidError()
        include_staff = not member.is_staff or member.totp_enabled_at is not None
        include_staff = include_staff or self.totp_exempt(member)
        return await self.issue(member, include_staff=include_staff, family_id=family_id)

    async def revoke(self, refresh_token: str) -> None:
        """Sign out: the token's family can no longer refresh. Unknown tokens are ignored, as
        RFC 7009 asks."""
        token = await self._refresh_tokens.get_for_update(hash_refresh_token(refresh_token))
        if token is not None:
            await self._refresh_tokens.revoke_family(token.family_id, utcnow())
            log.info("identity.signed_out", member_id=str(token.member_id))

    async def revoke_everywhere(self, member_id: uuid.UUID) -> int:
        revoked = await self._refresh_tokens.revoke_member(member_id, utcnow())
        log.info("identity.signed_out_everywhere", member_id=str(member_id), revoked=revoked)
        return revoked

    async def issue(
        self, member: Member, *, include_staff: bool = True, family_id: uuid.UUID | None = None
    ) -> IssuedToken:
        kid, private_key = await self._keys.signing_key()
        ttl = self._settings.access_token_ttl_s
        now = int(time.time())
        roles = token_roles(member, include_staff=include_staff)
        claims: dict[str, object] = {
            "sub": str(member.id),
            "pseudonym": member.pseudonym,
            "roles": roles,
            "vl": member.verification_level,
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        if member.organisation_id is not None and include_staff:
            organisation = await self._organisations.get(member.organisation_id)
            if organisation is not None:
                claims["org"] = str(organisation.id)
                claims["org_kind"] = organisation.kind
                claims["area"] = organisation.ward_codes
                if organisation.kind == OrganisationKind.BOROUGH_COMMAND:
                    # A borough command's code is its borough's GSS code.
                    claims["area_boroughs"] = [organisation.code]
        access_token = jwt.encode(
            claims, private_key, algorithm=SIGNING_ALGORITHMS[0], headers={"kid": kid}
        )
        refresh_ttl = self._settings.refresh_token_ttl_h * 3600
        refresh_token = secrets.token_urlsafe(32)
        await self._refresh_tokens.add(
            member_id=member.id,
            family_id=family_id or uuid.uuid4(),
            token_hash=hash_refresh_token(refresh_token),
            expires_at=utcnow() + timedelta(seconds=refresh_ttl),
        )
        return IssuedToken(
            access_token=access_token,
            expires_in=ttl,
            refresh_token=refresh_token,
            refresh_expires_in=refresh_ttl,
            roles=roles,
            two_factor_enrolment_required=member.is_staff and not include_staff,
        )
