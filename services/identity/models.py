"""Identity's tables: members and organisations, email-verification and password-reset tokens,
refresh tokens, sign-in throttles, the token-signing keys, the audit log, address and identity
verification, coordinator vetting, identity reveals, and the outbox its events leave through."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Timestamps, UUIDPrimaryKey, new_metadata, utcnow
from shared.idempotency import IdempotencyKeyMixin
from shared.outbox import OutboxMixin
from shared.request_limits import RequestCountMixin


class Base(DeclarativeBase):
    metadata = new_metadata()


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


class OrganisationKind(StrEnum):
    BOROUGH_COMMAND = "borough_command"
    NW_SCHEME = "nw_scheme"
    PARTNER_AGENCY = "partner_agency"


class VerificationLevel(StrEnum):
    EMAIL = "email"
    ADDRESS = "address"
    IDENTITY = "identity"


EMAIL_MAX_LENGTH = 254
PSEUDONYM_MAX_LENGTH = 40
ORGANISATION_CODE_MAX_LENGTH = 40
ORGANISATION_NAME_MAX_LENGTH = 120
WARD_CODE_LENGTH = 9
MAX_AREA_WARDS = 400

_ROLE_LIST = ", ".join(f"'{role.value}'" for role in Role)
_KIND_LIST = ", ".join(f"'{kind.value}'" for kind in OrganisationKind)
_LEVEL_LIST = ", ".join(f"'{level.value}'" for level in VerificationLevel)


class Organisation(UUIDPrimaryKey, Timestamps, Base):
    """A borough command, a Neighbourhood Watch scheme or a partner agency, with its area.

    Identity does not own geography: the area is a list of ward codes that an admin (or, in
    development, the wards file) registers with the organisation.
    """

    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(f"kind IN ({_KIND_LIST})", name="kind_known"),)

    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(ORGANISATION_CODE_MAX_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(ORGANISATION_NAME_MAX_LENGTH))
    ward_codes: Mapped[list[str]] = mapped_column(ARRAY(String(WARD_CODE_LENGTH)), default=list)


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


class EmailVerification(UUIDPrimaryKey, Base):
    """One emailed link. Only the token's SHA-256 is kept, so a database leak cannot verify.

    The password chosen with the registration that sent this link travels with it and becomes
    the member's password when the link is used: whoever pre-registers someone else's address
    cannot keep their own password on the account once its owner verifies it.
    """

    __tablename__ = "email_verifications"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PasswordReset(UUIDPrimaryKey, Base):
    """One emailed password-reset link; only the token's SHA-256 is kept."""

    __tablename__ = "password_resets"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecoveryCode(UUIDPrimaryKey, Base):
    """A one-time TOTP recovery code (SHA-256 only), shown once at enrolment."""

    __tablename__ = "recovery_codes"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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


class RecipientSendCount(RequestCountMixin, Base):
    """How many emails of one kind were asked for one address in the current window: past the
    limit, no more are sent until the window ends. Keys hold a keyed hash, never the address."""

    __tablename__ = "recipient_send_counts"


class AuditEntry(Base):
    """One staff or admin action. Rows are never updated, and deleted only oldest first by the
    retention purge (a trigger refuses anything else); each row's hash covers the previous row's
    hash, so any edit breaks the chain."""

    __tablename__ = "audit_log"

    position: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditAnchor(Base):
    """Where the audit chain starts once the retention purge has deleted its oldest entries: the
    last deleted entry's position and hash. The oldest kept entry must chain onto this hash, so
    entries deleted any other way still show as a broken link. One row, moved by each purge."""

    __tablename__ = "audit_log_anchor"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=text("1"))
    position: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    purged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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


class AddressMethod(StrEnum):
    LETTER = "letter"
    PROOF = "proof"


class AddressVerificationStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REFUSED = "refused"
    # A letter's code expired or its tries ran out: a new letter is needed.
    EXPIRED = "expired"
    # The member gave another address before this one was decided.
    SUPERSEDED = "superseded"


class DocumentPurpose(StrEnum):
    PROOF_OF_ADDRESS = "proof_of_address"
    IDENTITY_DOCUMENT = "identity_document"


class IdentityDocumentType(StrEnum):
    PASSPORT = "passport"
    DRIVING_LICENCE = "driving_licence"
    NATIONAL_IDENTITY_CARD = "national_identity_card"
    RESIDENCE_PERMIT = "residence_permit"


class CheckOutcome(StrEnum):
    PASS = "pass"  # noqa: S105 (an outcome, not a password)
    FAIL = "fail"


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    LAPSED = "lapsed"


class RevealStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    READ = "read"


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(value.value) for value in values)})"


class VerificationDocument(UUIDPrimaryKey, Base):
    """An uploaded proof of address or identity document, AES-GCM encrypted, kept only until
    a verifier decides on it: the decision stays, the file is deleted."""

    __tablename__ = "verification_documents"
    __table_args__ = (CheckConstraint(_in("purpose", DocumentPurpose), name="purpose_known"),)

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    content_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class AddressVerification(UUIDPrimaryKey, Base):
    """One attempt to verify a member's postal address, by a letter's one-time code or by a
    verifier looking at an uploaded proof. The address is encrypted; the code kept as a hash."""

    __tablename__ = "address_verifications"
    __table_args__ = (
        CheckConstraint(_in("method", AddressMethod), name="method_known"),
        CheckConstraint(_in("status", AddressVerificationStatus), name="status_known"),
        # One open attempt per member: a new address supersedes the pending one.
        Index(
            "uq_address_verifications_pending_member",
            "member_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default=AddressVerificationStatus.PENDING.value)
    # Recipient name, address lines and postcode as encrypted JSON.
    address_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    ward_code: Mapped[str] = mapped_column(String(WARD_CODE_LENGTH))
    h3_cell: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("verification_documents.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[uuid.UUID | None] = mapped_column()
    refusal_reason: Mapped[str | None] = mapped_column(String(500))


class IdentityCheck(UUIDPrimaryKey, Base):
    """A verifier's record of a document check: what was seen and the outcome, never the
    document itself."""

    __tablename__ = "identity_checks"
    __table_args__ = (
        CheckConstraint(_in("document_type", IdentityDocumentType), name="document_type_known"),
        CheckConstraint(_in("outcome", CheckOutcome), name="outcome_known"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    document_type: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(10))
    verifier_id: Mapped[uuid.UUID] = mapped_column()
    checked_on: Mapped[date] = mapped_column(Date)
    # Whether an uploaded document was looked at (and then deleted).
    document_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class CoordinatorApplication(UUIDPrimaryKey, Timestamps, Base):
    """A member's application to coordinate a Neighbourhood Watch scheme, and its vetting."""

    __tablename__ = "coordinator_applications"
    __table_args__ = (
        CheckConstraint(_in("status", ApplicationStatus), name="status_known"),
        Index(
            "uq_coordinator_applications_open",
            "member_id",
            "scheme_id",
            unique=True,
            postgresql_where=text("status IN ('pending', 'approved')"),
        ),
        Index(
            "ix_coordinator_applications_vetting_due",
            "vetting_expires_on",
            postgresql_where=text("status = 'approved'"),
        ),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    scheme_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    statement: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(10), default=ApplicationStatus.PENDING.value)
    decided_by: Mapped[uuid.UUID | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    vetting_reference: Mapped[str | None] = mapped_column(String(64))
    vetting_expires_on: Mapped[date | None] = mapped_column(Date)
    refusal_reason: Mapped[str | None] = mapped_column(String(500))
    lapsed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdentityReveal(UUIDPrimaryKey, Base):
    """A police request to learn who a member is: a reason, a second staff member's approval,
    and one reading by the requester. Every step is also in the audit log."""

    __tablename__ = "identity_reveals"
    __table_args__ = (CheckConstraint(_in("status", RevealStatus), name="status_known"),)

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[uuid.UUID] = mapped_column()
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(10), default=RevealStatus.PENDING.value)
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    approved_by: Mapped[uuid.UUID | None] = mapped_column()
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The approved reveal must be read before this; it can be read once.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutboxMessage(OutboxMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    """Claimed ``Idempotency-Key`` values and the answers given (``shared.idempotency``)."""
