"""Signing keys, the public key set, and signing in. Flushes, never commits."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.config import IdentitySettings
from services.identity.errors import (
    EmailNotVerifiedError,
    InvalidCredentialsError,
    ServiceUnavailableError,
)
from services.identity.members.repository import MemberRepository
from services.identity.models import Member, SigningKey
from services.identity.passwords import (
    hash_password,
    needs_rehash,
    spend_verification_time,
    verify_password,
)
from services.identity.tokens.repository import SigningKeyRepository
from services.identity.tokens.schemas import JsonWebKey, JsonWebKeySet
from shared.auth import SIGNING_ALGORITHMS
from shared.logs import get_logger

log = get_logger(__name__)

VERIFICATION_LEVEL_EMAIL = "email"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_x(private_key: Ed25519PrivateKey) -> str:
    return _b64url(private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def key_thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 JWK: a key id that names the key itself."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def _load_private_key(key: SigningKey) -> Ed25519PrivateKey:
    private_key = load_pem_private_key(key.private_key_pem.encode(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ServiceUnavailableError(f"Signing key {key.kid} is not an Ed25519 key.")
    return private_key


class SigningKeyService:
    def __init__(self, session: AsyncSession) -> None:
        self._keys = SigningKeyRepository(session)

    async def ensure_active_key(self) -> str:
        """The kid of the key that signs, creating the first one if there is none."""
        await self._keys.lock_key_creation()
        existing = await self._keys.newest_active()
        if existing is not None:
            return existing.kid
        private_key = Ed25519PrivateKey.generate()
        kid = key_thumbprint(_public_x(private_key))
        await self._keys.add(
            kid=kid,
            private_key_pem=private_key.private_bytes(
                Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
            ).decode(),
        )
        log.info("identity.signing_key.created", kid=kid)
        return kid

    async def signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        key = await self._keys.newest_active()
        if key is None:
            raise ServiceUnavailableError("Identity has no signing key yet; try again shortly.")
        return key.kid, _load_private_key(key)

    async def public_keys(self) -> JsonWebKeySet:
        return JsonWebKeySet(
            keys=[
                JsonWebKey(kid=key.kid, x=_public_x(_load_private_key(key)))
                for key in await self._keys.active()
            ]
        )


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


class TokenService:
    def __init__(self, session: AsyncSession, settings: IdentitySettings) -> None:
        self._settings = settings
        self._members = MemberRepository(session)
        self._keys = SigningKeyService(session)

    async def sign_in(self, email: str, password: str) -> IssuedToken:
        member = await self._members.get_by_email(email)
        if member is None:
            await spend_verification_time(password)
            log.info("identity.sign_in.refused", reason="unknown_email")
            raise InvalidCredentialsError()
        if not await verify_password(member.password_hash, password):
            log.info("identity.sign_in.refused", reason="wrong_password", member_id=str(member.id))
            raise InvalidCredentialsError()
        if not member.email_verified:
            log.info("identity.sign_in.refused", reason="unverified", member_id=str(member.id))
            raise EmailNotVerifiedError()
        if needs_rehash(member.password_hash):
            await self._members.set_password_hash(member, await hash_password(password))
        token = await self.issue(member)
        log.info("identity.sign_in.succeeded", member_id=str(member.id))
        return token

    async def issue(self, member: Member) -> IssuedToken:
        kid, private_key = await self._keys.signing_key()
        ttl = self._settings.access_token_ttl_s
        now = int(time.time())
        claims = {
            "sub": str(member.id),
            "pseudonym": member.pseudonym,
            "roles": sorted(member.roles),
            "vl": VERIFICATION_LEVEL_EMAIL,
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        access_token = jwt.encode(
            claims, private_key, algorithm=SIGNING_ALGORITHMS[0], headers={"kid": kid}
        )
        return IssuedToken(access_token=access_token, expires_in=ttl)
