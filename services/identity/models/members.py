"""Members: their roles (and which are staff roles), verification levels, and the member row
with its encrypted personal data."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.identity.models.base import WARD_CODE_LENGTH, Base
from shared.db import Timestamps, UUIDPrimaryKey


class Role(StrEnum):
    RESIDENT = "resident"
    BUSINESS = "business"
    COORDINATOR = "coordinator"
    OFFICER = "officer"
    PARTNER = "partner"
    VERIFIER = "verifier"
    ORG_ADMIN = "org_admin"
    PLATFORM_ADMIN = "platform_admin"


# Roles that act on other people's data or speak for an organisation: they need TOTP.
STAFF_ROLES = frozenset(
    {
        Role.COORDINATOR,
        Role.OFFICER,
        Role.PARTNER,
        Role.VERIFIER,
        Role.ORG_ADMIN,
        Role.PLATFORM_ADMIN,
    }
)


# Tokens of platform admins also carry the skeleton's ``admin`` role, which geo, alerts and
# dispatch still check; drop it once they ask for ``platform_admin``.
LEGACY_ADMIN_ROLE = "admin"


class VerificationLevel(StrEnum):
    EMAIL = "email"
    ADDRESS = "address"
    IDENTITY = "identity"


EMAIL_MAX_LENGTH = 254
PSEUDONYM_MAX_LENGTH = 40

_ROLE_LIST = ", ".join(f"'{role.value}'" for role in Role)
_LEVEL_LIST = ", ".join(f"'{level.value}'" for level in VerificationLevel)


class Member(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint(
            f"cardinality(roles) >= 1 AND roles <@ ARRAY[{_ROLE_LIST}]::varchar[]",
            name="roles_known",
        ),
        CheckConstraint(f"verification_level IN ({_LEVEL_LIST})", name="verification_level_known"),
    )

    # The address is kept encrypted (crypto.PersonalData); it is found through the HMAC of the
    # lower-cased, stripped address, so a plain unique constraint is case-insensitive.
    email_index: Mapped[str] = mapped_column(String(64), unique=True)
    email_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    password_hash: Mapped[str] = mapped_column(String(255))
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM_MAX_LENGTH), unique=True)
    roles: Mapped[list[str]] = mapped_column(
        ARRAY(String(20)), default=lambda: [Role.RESIDENT.value]
    )
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verification_level: Mapped[str] = mapped_column(
        String(20), default=VerificationLevel.EMAIL.value, server_default="email"
    )
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The TOTP secret, AES-GCM encrypted (see crypto.py); enabled once a first code confirmed it.
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last accepted time step: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Seeded development members may sign in without TOTP, never in production.
    totp_exempt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Name, phone and the verified postal address, each AES-GCM encrypted (crypto.PersonalData).
    name_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The verified address's ward: what geo is told, never the address itself.
    home_ward_code: Mapped[str | None] = mapped_column(String(WARD_CODE_LENGTH))
    address_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    identity_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def is_staff(self) -> bool:
        return any(role in STAFF_ROLES for role in self.roles)

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None
