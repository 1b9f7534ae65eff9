"""API clients: other police systems that get tokens with OAuth2 client credentials, and
their scopes."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.identity.models.base import Base
from shared.db import Timestamps, UUIDPrimaryKey


class ApiScope(StrEnum):
    ALERTS_WRITE = "alerts:write"
    ALERTS_READ = "alerts:read"
    CAP_WRITE = "cap:write"


_SCOPE_LIST = ", ".join(f"'{scope.value}'" for scope in ApiScope)
API_CLIENT_NAME_MAX_LENGTH = 120


class ApiClient(UUIDPrimaryKey, Timestamps, Base):
    """Another police system that gets tokens with OAuth2 client credentials. Bound to one
    organisation, whose area its tokens carry. The secret is 32 random bytes, so its SHA-256
    is enough (no slow hash needed) and is all that is kept; it is shown once."""

    __tablename__ = "api_clients"
    __table_args__ = (
        CheckConstraint(
            f"cardinality(scopes) >= 1 AND scopes <@ ARRAY[{_SCOPE_LIST}]::varchar[]",
            name="scopes_known",
        ),
    )

    name: Mapped[str] = mapped_column(String(API_CLIENT_NAME_MAX_LENGTH))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    secret_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
