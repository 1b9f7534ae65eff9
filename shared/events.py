"""The event envelope, and the one registry of topics, event types and their payloads.

Every event that crosses a service boundary is declared here, so that a producer and its
consumers can never disagree about a name or a field.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.db import utcnow


class Topic(StrEnum):
    """Kafka topics. The version suffix changes only with an incompatible envelope."""

    MEMBERS = "tawny.identity.members.v1"
    ALERTS = "tawny.alerts.lifecycle.v1"
    RECIPIENT_BATCHES = "tawny.geo.recipient-batches.v1"
    DELIVERY_STATUS = "tawny.dispatch.delivery-status.v1"
    AUDIENCES = "tawny.geo.audiences.v1"
    DEAD_LETTER = "tawny.dead-letter.v1"


# Topics whose events name members: member.* events carry an email address, a pseudonym or,
# for a letter, a postal address; recipient batches carry member ids; a dead letter may be a
# copy of either. Kafka deletes no single record, so an erasure reaches these topics through
# their retention alone: just long enough for a consumer's outage to end (and, for dead
# letters, for an operator to look). Every other topic carries no member's data. Topics are
# created with these (``shared.kafka.ensure_topics``; k8s/infrastructure/kafka.yaml in
# production, checked against this by tests/shared/test_topic_retention.py).
PERSONAL_DATA_RETENTION: dict[Topic, timedelta] = {
    Topic.MEMBERS: timedelta(days=7),
    Topic.RECIPIENT_BATCHES: timedelta(days=7),
    Topic.DEAD_LETTER: timedelta(days=30),
}


class EventPayload(BaseModel):
    """Base of every event payload: its type, version and topic travel with the class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[Topic]

    def partition_key(self) -> str:
        raise NotImplementedError


class EventEnvelope(BaseModel):
    """What goes on the wire: ids and provenance around one payload."""

    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    producer: str
    request_id: str | None = None
    # The W3C trace context (``traceparent``, ``tracestate``) of the work that staged the
    # event, so that publishing and handling it continue that trace (shared/tracing.py).
    # Absent when nothing was being traced.
    trace: dict[str, str] | None = None
    payload: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        producer: str,
        request_id: str | None = None,
        trace: dict[str, str] | None = None,
    ) -> EventEnvelope:
        return cls(
            type=payload.event_type,
            version=payload.event_version,
            producer=producer,
            request_id=request_id,
            trace=trace,
            payload=payload.model_dump(mode="json"),
        )

    def parse_payload(self) -> EventPayload:
        payload_class = EVENT_TYPES.get((self.type, self.version))
        if payload_class is None:
            raise UnknownEventError(f"unknown event {self.type} v{self.version}")
        return payload_class.model_validate(self.payload)


class UnknownEventError(ValueError):
    pass


# --- identity -------------------------------------------------------------------------------


class VerificationEmailRequested(EventPayload):
    """Identity asks dispatch to send the email-verification link (a transactional email)."""

    event_type = "member.verification_email_requested"
    topic = Topic.MEMBERS

    member_id: uuid.UUID
    email: str
    pseudonym: str
    verify_url: str

    def partition_key(self) -> str:
        return str(self.member_id)


class MemberEmailVerified(EventPayload):
    """A member proved they own this address: dispatch may now send alerts to it."""

    event_type = "member.email_verified"
    topic = Topic.MEMBERS

    member_id: uuid.UUID
    email: str
    pseudonym: str

    def partition_key(self) -> str:
        return str(self.member_id)


class PasswordResetRequested(EventPayload):
    """Identity asks dispatch to email a password-reset link (a transactional email)."""

    event_type = "member.password_reset_requested"
    topic = Topic.MEMBERS

    member_id: uuid.UUID
    email: str
    pseudonym: str
    reset_url: str

    def partition_key(self) -> str:
        return str(self.member_id)


class MemberSuspended(EventPayload):
    """A member was suspended: services that cache anything about them may stop serving it.
    Their access tokens stop by themselves within their lifetime (at most 15 minutes)."""

    event_type = "member.suspended"
    topic = Topic.MEMBERS

    member_id: uuid.UUID

    def partition_key(self) -> str:
        return str(self.member_id)


class MemberReinstated(EventPayload):
    """A suspension was lifted."""

    event_type = "member.reinstated"
    topic = Topic.MEMBERS

    member_id: uuid.UUID

    def partition_key(self) -> str:
        return str(self.member_id)


class MemberAddressVerified(EventPayload):
    """A member's postal address was verified. Carries only what geo needs to set their home
    ward: the ward's code and a coarse H3 cell (resolution 7, about 5 km²), never the address."""

    event_type = "member.address_verified"
    topic = Topic.MEMBERS

    member_id: uuid.UUID
    home_ward_code: str
    h3_cell: str | None = None

    def partition_key(self) -> str:
        return str(self.member_id)


class MemberErased(EventPayload):
    """A member's account and personal data were erased from identity: every service deletes
    or irreversibly anonymises every row that names this member id (dispatch its endpoints,
    preferences and deliveries; geo its subscriptions and the recipient sets naming them;
    alerts their replies, photos and usefulness marks)."""

    event_type = "member.erased"
    topic = Topic.MEMBERS

    member_id: uuid.UUID
    # The member chose to leave their replies' text for the police, anonymised (no member
    # id, no pseudonym); otherwise the replies are deleted. Photos are deleted either way.
    keep_reply_text: bool = False

    def partition_key(self) -> str:
        return str(self.member_id)


class MemberExportRequested(EventPayload):
    """A member asked for a copy of their data: each service may add what it holds about
    this member id to the export named by ``export_id``."""

    event_type = "member.export_requested"
    topic = Topic.MEMBERS

    member_id: uuid.UUID
    export_id: uuid.UUID

    def partition_key(self) -> str:
        return str(self.member_id)


class AddressLetterRequested(EventPayload):
    """Identity asks dispatch to post a one-time address-verification code by letter.

    The only event that carries a postal address: dispatch hands it to the letter provider and
    keeps the letter's status, never the address. The member enters ``code`` in identity before
    ``expires_at``."""

    event_type = "member.address_letter_requested"
    topic = Topic.MEMBERS

    member_id: uuid.UUID
    letter_id: uuid.UUID
    recipient_name: str
    address_lines: list[str]
    postcode: str
    code: str
    expires_at: datetime

    def partition_key(self) -> str:
        return str(self.member_id)


class MemberNoticeRequested(EventPayload):
    """Identity asks dispatch to tell a member something about their account by email (their
    coordinator rights were approved or lapsed, their address was verified...). Dispatch sends
    it to the member's verified address; identity never needs to know that address's state."""

    event_type = "member.notice_requested"
    topic = Topic.MEMBERS

    member_id: uuid.UUID
    notice_id: uuid.UUID
    # A stable name for the kind of notice ("coordinator_lapsed"), for templates and metrics.
    kind: str
    subject: str
    body: str

    def partition_key(self) -> str:
        return str(self.member_id)


# --- alerts ---------------------------------------------------------------------------------


class AlertTranslation(BaseModel):
    """The alert's text in another language (a further CAP ``info`` block)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # An RFC 3066 tag as CAP carries it ("cy-GB").
    language: str
    headline: str
    body: str
    instruction: str | None = None


def primary_language(tag: str) -> str:
    """ "cy-GB" -> "cy": members choose a language, not a region."""
    return tag.split("-", 1)[0].strip().lower()


class AlertContent(BaseModel):
    """What a recipient sees: carried with each recipient batch so dispatch needs no lookup."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: uuid.UUID
    msg_type: str = "Alert"
    headline: str
    body: str
    category: str
    severity: str
    urgency: str
    sender_name: str
    sent_at: datetime
    # For an Update or Cancel (or a resolved outcome): the id of the ORIGINAL alert message.
    # Geo sends it to the original's recipients; alert_id stays this message's own id.
    references: uuid.UUID | None = None
    instruction: str | None = None
    contact: str | None = None
    web: str | None = None
    expires: datetime | None = None
    # The language of the text above, and the same alert in others.
    language: str = "en-GB"
    translations: list[AlertTranslation] = []

    def languages(self) -> set[str]:
        """The primary languages the alert can be read in."""
        return {primary_language(self.language)} | {
            primary_language(t.language) for t in self.translations
        }

    def in_language(self, language: str) -> AlertContent:
        """The alert as a member who reads ``language`` ("cy") should see it: that
        translation's text when the alert has one, otherwise as written."""
        wanted = primary_language(language)
        if wanted == primary_language(self.language):
            return self
        for translation in self.translations:
            if primary_language(translation.language) == wanted:
                return self.model_copy(
                    update={
                        "language": translation.language,
                        "headline": translation.headline,
                        "body": translation.body,
                        "instruction": translation.instruction,
                    }
                )
        return self


class TargetCircle(BaseModel):
    """A targeted circle: centre (WGS84) and radius in metres."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lat: float
    lon: float
    radius_m: float


class TargetPolygon(BaseModel):
    """A targeted drawn area: GeoJSON Polygon coordinates ([longitude, latitude] rings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coordinates: list[list[list[float]]]


class AlertPublished(EventPayload):
    """An alert (or an update to one) went out: geo resolves its audience."""

    event_type = "alert.published"
    topic = Topic.ALERTS

    content: AlertContent
    target_ward_codes: list[str]
    # Optional further target kinds (geo-targeting, issue 4): the audience is the union of
    # members watching any targeted ward, borough, circle or polygon.
    target_borough_codes: list[str] = []
    target_circles: list[TargetCircle] = []
    target_polygons: list[TargetPolygon] = []

    def partition_key(self) -> str:
        return str(self.content.alert_id)


class TargetingRetryRequested(AlertPublished):
    """An officer asks geo to resolve a published alert's target again, after a failed part
    was fixed (a boundary set re-imported, a bug mended). Same payload as ``alert.published``;
    geo resolves the whole target afresh and dispatch's one-delivery-per-member rule keeps
    anyone already reached from hearing it twice."""

    event_type = "alert.targeting_retry_requested"


# --- geo ------------------------------------------------------------------------------------


class TargetPartFailure(BaseModel):
    """One part of an alert's target geo could not use (see ``shared.targeting``): ``part``
    names it as the alert did ("target_circles[0]"), ``field`` the field at fault."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    part: str
    field: str
    reason: str
    detail: str


class AudienceResolved(EventPayload):
    """Geo resolved an alert message's target: how many members it reaches, and every part it
    could not use. Sent for every resolution, so a successful retry clears an earlier failure;
    alerts keeps the one with the latest ``resolved_at``."""

    event_type = "audience.resolved"
    topic = Topic.AUDIENCES

    alert_id: uuid.UUID
    # The alert.published (or retry) event this answers.
    event_id: uuid.UUID
    resolved_at: datetime
    recipients: int
    failures: list[TargetPartFailure] = []

    def partition_key(self) -> str:
        return str(self.alert_id)


class AreaWatchers(BaseModel):
    """How many distinct members watch one area (a count, never who)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    area_kind: Literal["london", "borough", "ward"]
    area_code: str
    # A ward's borough, the borough itself for a borough, None for London.
    borough_code: str | None
    members_watching: int = Field(ge=0)


class WatchersCounted(EventPayload):
    """Geo's count of the members watching London, each borough and each ward of the current
    boundary set, exact and as of ``counted_at``, for the dashboard's open data: alerts keeps
    the latest of each month and suppresses small counts as it does its own. On the audiences
    topic (geo's reports about who alerts reach), one key, so compaction keeps the latest."""

    event_type = "watchers.counted"
    topic = Topic.AUDIENCES

    counted_at: datetime
    areas: list[AreaWatchers]

    def partition_key(self) -> str:
        return "dashboard-watchers"


# --- geo: recipients ---------------------------------------------------------------------------


class RecipientBatch(EventPayload):
    """One slice of an alert's audience. Keyed by alert and batch so batches spread over
    partitions and several dispatchers share one alert."""

    event_type = "recipients.batch"
    topic = Topic.RECIPIENT_BATCHES

    content: AlertContent
    batch_number: int
    member_ids: list[uuid.UUID]

    def partition_key(self) -> str:
        return f"{self.content.alert_id}:{self.batch_number}"


# --- dispatch -------------------------------------------------------------------------------


class DeliveryCounts(BaseModel):
    """One channel's deliveries of one alert so far, in members (a member's several browsers or
    app installations count once). ``sent``: handed to the provider for at least one of their
    devices; ``delivered``: the provider's receipt says it arrived; ``failed``: refused or
    given up on every device."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recipients: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0


class DeliveryStatsReported(EventPayload):
    """Dispatch's running totals for one alert, per channel, published every few seconds while
    they change (never one event per message). Totals, not increments, so a repeated or late
    event is harmless: alerts keeps the one with the latest ``as_of``."""

    event_type = "delivery.stats_reported"
    topic = Topic.DELIVERY_STATUS

    alert_id: uuid.UUID
    as_of: datetime
    channels: dict[str, DeliveryCounts]

    def partition_key(self) -> str:
        return str(self.alert_id)


EVENT_TYPES: dict[tuple[str, int], type[EventPayload]] = {
    (cls.event_type, cls.event_version): cls
    for cls in (
        VerificationEmailRequested,
        MemberEmailVerified,
        PasswordResetRequested,
        MemberSuspended,
        MemberReinstated,
        MemberAddressVerified,
        MemberErased,
        MemberExportRequested,
        AddressLetterRequested,
        MemberNoticeRequested,
        AlertPublished,
        TargetingRetryRequested,
        AudienceResolved,
        WatchersCounted,
        RecipientBatch,
        DeliveryStatsReported,
    )
}
