"""Signing in: refresh tokens (in families, so a reused one revokes its family), throttles
on failed sign-ins, and the keys that sign access tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from services.identity.models.base import Base
from shared.db import UUIDPrimaryKey, utcnow


class RefreshToken(UUIDPrimaryKey, Base):
    """One refresh token of a family. Each use replaces it with a new one of the same family;
    a token presented a second time means it was stolen, and the whole family is revoked."""

    __tablename__ = "refresh_tokens"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInThrottle(Base):
    """Recent failed sign-ins under one key (an IP, an account, or the pair): the next attempt
    under that key must wait an exponentially growing delay. Keys hold hashes, never emails."""

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SigningKey(Base):
    """An Ed25519 key that signs access tokens; its public half is served as a JWK."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The PKCS#8 PEM, AES-GCM encrypted under identity's data keys like every other secret.
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # A rotated-in key is published in the JWKS at once but signs only from this time, so every
    # service has fetched it before it meets a token signed with it. Null: signs at once.
    signs_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when a newer key takes over: the key stays in the JWKS until then, so tokens it
    # signed keep verifying for their whole lifetime.
    retire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
