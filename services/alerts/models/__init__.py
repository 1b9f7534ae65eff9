"""The alerts database, one module per domain: the CAP message and its audit trail (``alert``)
with CAP's vocabulary (``cap``), pictures (``images``), members' replies and marks
(``feedback``), dispatch's delivery totals (``delivery``), partners' webhooks (``webhooks``),
the public dashboard's counts (``dashboard``), what alerts keeps about members (``members``),
and the tables of the shared machinery (``infrastructure``). Every name is importable from
``services.alerts.models``, and importing it registers every table on ``Base.metadata``
(which Alembic's ``env.py`` compares with the migrations).

Field names follow OASIS CAP 1.2. A row is one CAP *message*: an Update or a Cancel is a new row
with its own identifier whose ``references_id`` points at the original alert. Tawny's workflow
lives on the original in ``state``; CAP's own ``status`` (Actual, Exercise, Test...) is
``cap_status``. The first CAP ``info`` block is stored in columns; further languages of the
same alert are ``translations`` (CAP repeats category, urgency and so on in each info block, and
Tawny keeps them the same across languages)."""

from __future__ import annotations

from services.alerts.models.alert import (
    AREA_DESC_MAX_LENGTH,
    BODY_MAX_LENGTH,
    CONTACT_MAX_LENGTH,
    EVENT_MAX_LENGTH,
    HEADLINE_MAX_LENGTH,
    IDENTIFIER_MAX_LENGTH,
    INSTRUCTION_MAX_LENGTH,
    LANGUAGE_MAX_LENGTH,
    MAX_TARGET_BOROUGHS,
    MAX_TARGET_WARDS,
    REFERENCE_MAX_LENGTH,
    SENDER_MAX_LENGTH,
    WEB_MAX_LENGTH,
    Alert,
    AlertState,
    Audience,
    AuditAction,
    AuditEntry,
    AuthorKind,
    Channel,
    CrimeType,
)
from services.alerts.models.base import (
    PSEUDONYM_MAX_LENGTH,
    WARD_CODE_LENGTH,
    Base,
)
from services.alerts.models.cap import (
    CapStatus,
    Category,
    Certainty,
    MsgType,
    ResponseType,
    Scope,
    Severity,
    Urgency,
)
from services.alerts.models.dashboard import (
    DASHBOARD_COUNTS,
    DashboardAlertFact,
    DashboardCell,
    DashboardWatchers,
)
from services.alerts.models.delivery import (
    CHANNEL_NAME_MAX_LENGTH,
    DeliveryStats,
)
from services.alerts.models.feedback import (
    REPLY_MAX_LENGTH,
    Reply,
    ReplyPhoto,
    Usefulness,
)
from services.alerts.models.images import (
    IMAGE_DESCRIPTION_MAX_LENGTH,
    MAX_IMAGES_PER_ALERT,
    AlertImage,
    ImageBlobMixin,
)
from services.alerts.models.infrastructure import (
    IdempotencyKey,
    OutboxMessage,
    ProcessedEvent,
)
from services.alerts.models.members import (
    MemberExportPart,
    SuspendedMember,
)
from services.alerts.models.webhooks import (
    WEBHOOK_SECRET_MAX_LENGTH,
    WEBHOOK_URL_MAX_LENGTH,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
)

__all__ = [
    "AREA_DESC_MAX_LENGTH",
    "BODY_MAX_LENGTH",
    "CHANNEL_NAME_MAX_LENGTH",
    "CONTACT_MAX_LENGTH",
    "DASHBOARD_COUNTS",
    "EVENT_MAX_LENGTH",
    "HEADLINE_MAX_LENGTH",
    "IDENTIFIER_MAX_LENGTH",
    "IMAGE_DESCRIPTION_MAX_LENGTH",
    "INSTRUCTION_MAX_LENGTH",
    "LANGUAGE_MAX_LENGTH",
    "MAX_IMAGES_PER_ALERT",
    "MAX_TARGET_BOROUGHS",
    "MAX_TARGET_WARDS",
    "PSEUDONYM_MAX_LENGTH",
    "REFERENCE_MAX_LENGTH",
    "REPLY_MAX_LENGTH",
    "SENDER_MAX_LENGTH",
    "WARD_CODE_LENGTH",
    "WEBHOOK_SECRET_MAX_LENGTH",
    "WEBHOOK_URL_MAX_LENGTH",
    "WEB_MAX_LENGTH",
    "Alert",
    "AlertImage",
    "AlertState",
    "Audience",
    "AuditAction",
    "AuditEntry",
    "AuthorKind",
    "Base",
    "CapStatus",
    "Category",
    "Certainty",
    "Channel",
    "CrimeType",
    "DashboardAlertFact",
    "DashboardCell",
    "DashboardWatchers",
    "DeliveryStats",
    "IdempotencyKey",
    "ImageBlobMixin",
    "MemberExportPart",
    "MsgType",
    "OutboxMessage",
    "ProcessedEvent",
    "Reply",
    "ReplyPhoto",
    "ResponseType",
    "Scope",
    "Severity",
    "SuspendedMember",
    "Urgency",
    "Usefulness",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEvent",
]
