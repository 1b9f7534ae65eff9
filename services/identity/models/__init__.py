"""Identity's tables, one module per domain: members and their roles (``members``),
organisations (``organisations``), what an account keeps besides the member (``accounts``:
emailed links, recovery codes, emails per address), sign-in (``tokens``: refresh tokens,
throttles, signing keys), other police systems (``clients``), the audit log (``audit``),
address and identity verification (``verification``), coordinator vetting
(``coordinators``), identity reveals (``reveals``), and the outbox and ``Idempotency-Key``
claims (``infrastructure``). Every name is importable from ``services.identity.models``, and
importing it registers every table on ``Base.metadata`` (which Alembic's ``env.py`` compares
with the migrations)."""

from __future__ import annotations

from services.identity.models.accounts import (
    EmailVerification,
    PasswordReset,
    RecipientSendCount,
    RecoveryCode,
)
from services.identity.models.audit import (
    AuditAnchor,
    AuditEntry,
)
from services.identity.models.base import (
    WARD_CODE_LENGTH,
    Base,
)
from services.identity.models.clients import (
    API_CLIENT_NAME_MAX_LENGTH,
    ApiClient,
    ApiScope,
)
from services.identity.models.coordinators import (
    ApplicationStatus,
    CoordinatorApplication,
)
from services.identity.models.infrastructure import (
    IdempotencyKey,
    OutboxMessage,
)
from services.identity.models.members import (
    EMAIL_MAX_LENGTH,
    LEGACY_ADMIN_ROLE,
    PSEUDONYM_MAX_LENGTH,
    STAFF_ROLES,
    Member,
    Role,
    VerificationLevel,
)
from services.identity.models.organisations import (
    MAX_AREA_WARDS,
    ORGANISATION_CODE_MAX_LENGTH,
    ORGANISATION_NAME_MAX_LENGTH,
    Organisation,
    OrganisationKind,
)
from services.identity.models.reveals import (
    IdentityReveal,
    RevealStatus,
)
from services.identity.models.tokens import (
    RefreshToken,
    SigningKey,
    SignInThrottle,
)
from services.identity.models.verification import (
    AddressMethod,
    AddressVerification,
    AddressVerificationStatus,
    CheckOutcome,
    DocumentPurpose,
    IdentityCheck,
    IdentityDocumentType,
    VerificationDocument,
)

__all__ = [
    "API_CLIENT_NAME_MAX_LENGTH",
    "EMAIL_MAX_LENGTH",
    "LEGACY_ADMIN_ROLE",
    "MAX_AREA_WARDS",
    "ORGANISATION_CODE_MAX_LENGTH",
    "ORGANISATION_NAME_MAX_LENGTH",
    "PSEUDONYM_MAX_LENGTH",
    "STAFF_ROLES",
    "WARD_CODE_LENGTH",
    "AddressMethod",
    "AddressVerification",
    "AddressVerificationStatus",
    "ApiClient",
    "ApiScope",
    "ApplicationStatus",
    "AuditAnchor",
    "AuditEntry",
    "Base",
    "CheckOutcome",
    "CoordinatorApplication",
    "DocumentPurpose",
    "EmailVerification",
    "IdempotencyKey",
    "IdentityCheck",
    "IdentityDocumentType",
    "IdentityReveal",
    "Member",
    "Organisation",
    "OrganisationKind",
    "OutboxMessage",
    "PasswordReset",
    "RecipientSendCount",
    "RecoveryCode",
    "RefreshToken",
    "RevealStatus",
    "Role",
    "SignInThrottle",
    "SigningKey",
    "VerificationDocument",
    "VerificationLevel",
]
