"""Every SQL statement about signing keys, refresh tokens and sign-in throttles."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, delete, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import RefreshToken, SigningKey, SignInThrottle

# One number for "someone is creating identity's first signing key".
_KEY_CREATION_LOCK = zlib.crc32(b"tawny-identity:signing-keys")


class SigningKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_key_creation(self) -> None:
        """Held until the transaction ends, so replicas starting together create one key."""
        await self._session.execute(
            text("SELECT pg_advisory_xact_lock(:id)"), {"id": _KEY_CREATION_LOCK}
        )

    async def published(self, now: datetime) -> Sequence[SigningKey]:
        """Keys in the JWKS, newest first: the signing key and those not retired yet."""
        return (
            await self._session.scalars(
                select(SigningKey)
                .where(
                    SigningKey.active.is_(True),
                    or_(SigningKey.retire_at.is_(None), SigningKey.retire_at > now),
                )
                .order_by(SigningKey.created_at.desc(), SigningKey.kid)
            )
        ).all()

    async def schedule_retirement(self, *, except_kid: str, at: datetime) -> list[str]:
        """Every other live key leaves the JWKS at ``at``; returns their kids."""
        result = await self._session.scalars(
            update(SigningKey)
            .where(
                SigningKey.kid != except_kid,
                SigningKey.active.is_(True),
                SigningKey.retire_at.is_(None),
            )
            .values(retire_at=at)
            .returning(SigningKey.kid)
        )
        return list(result)

    async def newest_active(self, now: datetime) -> SigningKey | None:
        """The key that signs: the newest one whose signing time has come and that is not
        retired (a key retiring later still signs until its successor's time comes)."""
        return await self._session.scalar(
            select(SigningKey)
            .where(
                SigningKey.active.is_(True),
                or_(SigningKey.retire_at.is_(None), SigningKey.retire_at > now),
                or_(SigningKey.signs_from.is_(None), SigningKey.signs_from <= now),
            )
            .order_by(SigningKey.created_at.desc(), SigningKey.kid)
            .limit(1)
        )

    async def all_for_update(self) -> Sequence[SigningKey]:
        return (
            await self._session.scalars(
                select(SigningKey).order_by(SigningKey.kid).with_for_update()
            )
        ).all()

    async def add(
        self, *, kid: str, private_key_encrypted: bytes, signs_from: datetime | None = None
    ) -> SigningKey:
        key = SigningKey(
            kid=kid,
            private_key_encrypted=private_key_encrypted,
            active=True,
            signs_from=signs_from,
        )
        self._session.add(key)
        await self._session.flush()
        return key


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, *, member_id: uuid.UUID, family_id: uuid.UUID, token_hash: str, expires_at: datetime
    ) -> RefreshToken:
        token = RefreshToken(
            member_id=member_id, family_id=family_id, token_hash=token_hash, expires_at=expires_at
        )
        self._session.add(token)
        await self._session.flush()
        return token

    async def get_for_update(self, token_hash: str) -> RefreshToken | None:
        """Locked, so two refreshes with one token are handled one after the other: the second
        sees it used and revokes the family."""
        return await self._session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        )

    async def mark_used(self, token: RefreshToken, at: datetime) -> None:
        token.used_at = at
        await self._session.flush()

    async def revoke_family(self, family_id: uuid.UUID, at: datetime) -> int:
        result = await self._session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount  # type: ignore[attr-defined, no-any-return]

    async def revoke_member(self, member_id: uuid.UUID, at: datetime) -> int:
        result = await self._session.execute(
            update(RefreshToken)
            .where(RefreshToken.member_id == member_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount  # type: ignore[attr-defined, no-any-return]


class ThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_many(self, keys: Sequence[str]) -> Sequence[SignInThrottle]:
        return (
            await self._session.scalars(select(SignInThrottle).where(SignInThrottle.key.in_(keys)))
        ).all()

    async def count_failure(self, key: str, *, at: datetime, forget_before: datetime) -> None:
        """One more failure under ``key``; failures older than ``forget_before`` start over."""
        statement = insert(SignInThrottle).values(key=key, failures=1, last_failure_at=at)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[SignInThrottle.key],
                set_={
                    "failures": case(
                        (SignInThrottle.last_failure_at < forget_before, 1),
                        else_=SignInThrottle.failures + 1,
                    ),
                    "last_failure_at": at,
                },
            )
        )

    async def clear(self, keys: Sequence[str]) -> None:
        await self._session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(keys)))
