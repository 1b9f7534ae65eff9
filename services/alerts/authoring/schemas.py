"""What authors send and receive: the CAP 1.2 alert with Tawny's additions, and the guardrails
that apply while writing (fields required by type, limits, suspect descriptions)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.alerts import models
from services.alerts.models import (
    AREA_DESC_MAX_LENGTH,
    BODY_MAX_LENGTH,
    CONTACT_MAX_LENGTH,
    EVENT_MAX_LENGTH,
    HEADLINE_MAX_LENGTH,
    INSTRUCTION_MAX_LENGTH,
    MAX_TARGET_BOROUGHS,
    MAX_TARGET_WARDS,
    REFERENCE_MAX_LENGTH,
    WARD_CODE_LENGTH,
    WEB_MAX_LENGTH,
    AlertState,
    Audience,
    AuditAction,
    CapStatus,
    Category,
    Certainty,
    Channel,
    CrimeType,
    MsgType,
    ResponseType,
    Scope,
    Severity,
    Urgency,
)
from shared import targeting

# ONS GSS codes: wards E05…, London boroughs E09….
WARD_CODE_PATTERN = r"^[A-Z][0-9]{8}$"
BOROUGH_CODE_PATTERN = r"^E09[0-9]{6}$"
# A headline becomes an email subject and a push title: no line breaks or other control
# characters. A body may have line breaks and tabs, but no other control characters.
HEADLINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
BODY_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9/ -]*$"
MAX_TRANSLATIONS = 5
MAX_SUSPECTS = 5
MAX_CIRCLES = 10
MAX_POLYGONS = 10
MAX_POLYGON_POINTS = targeting.MAX_POLYGON_VERTICES
SUSPECT_FIELD_MAX_LENGTH = 200

WardCode = Annotated[
    str,
    StringConstraints(
        pattern=WARD_CODE_PATTERN, min_length=WARD_CODE_LENGTH, max_length=WARD_CODE_LENGTH
    ),
]
BoroughCode = Annotated[str, StringConstraints(pattern=BOROUGH_CODE_PATTERN)]
Headline = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=HEADLINE_MAX_LENGTH,
        pattern=HEADLINE_PATTERN,
    ),
]
Description = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=BODY_MAX_LENGTH, pattern=BODY_PATTERN
    ),
]
Instruction = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=INSTRUCTION_MAX_LENGTH, pattern=BODY_PATTERN
    ),
]
Contact = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=CONTACT_MAX_LENGTH, pattern=HEADLINE_PATTERN
    ),
]
Web = Annotated[str, StringConstraints(max_length=WEB_MAX_LENGTH, pattern=r"^https://[^\s<>\"]+$")]
Language = Annotated[str, StringConstraints(max_length=35, pattern=LANGUAGE_PATTERN)]
EventName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=EVENT_MAX_LENGTH, pattern=HEADLINE_PATTERN
    ),
]
AreaDesc = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=AREA_DESC_MAX_LENGTH,
        pattern=HEADLINE_PATTERN,
    ),
]
SuspectText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=SUSPECT_FIELD_MAX_LENGTH,
        pattern=HEADLINE_PATTERN,
    ),
]

# What CAP category a crime type is published under when the author gives none.
DEFAULT_CATEGORIES: dict[CrimeType, Category] = {
    CrimeType.MISSING_PERSON: Category.RESCUE,
    CrimeType.SAFETY_ADVICE: Category.SAFETY,
    CrimeType.COMMUNITY_EVENT: Category.OTHER,
    CrimeType.ROAD_CLOSURE: Category.TRANSPORT,
    CrimeType.OTHER: Category.OTHER,
}
EVENT_NAMES: dict[CrimeType, str] = {
    CrimeType.BURGLARY: "Burglary",
    CrimeType.ROBBERY: "Robbery",
    CrimeType.VIOLENCE_WITH_INJURY: "Violence with injury",
    CrimeType.THEFT_FROM_MOTOR_VEHICLE: "Theft from a motor vehicle",
    CrimeType.THEFT_OF_MOTOR_VEHICLE: "Theft of a motor vehicle",
    CrimeType.THEFT_FROM_PERSON: "Theft from the person",
    CrimeType.CRIMINAL_DAMAGE: "Criminal damage",
    CrimeType.ANTISOCIAL_BEHAVIOUR: "Antisocial behaviour",
    CrimeType.FRAUD_OR_SCAM: "Fraud or scam",
    CrimeType.MISSING_PERSON: "Missing person",
    CrimeType.WITNESS_APPEAL: "Witness appeal",
    CrimeType.SAFETY_ADVICE: "Safety advice",
    CrimeType.COMMUNITY_EVENT: "Community event",
    CrimeType.ROAD_CLOSURE: "Road closure",
    CrimeType.OTHER: "Other",
}


def default_categories(crime_type: CrimeType) -> list[Category]:
    return [DEFAULT_CATEGORIES.get(crime_type, Category.SECURITY)]


def _unique(values: list[Any], what: str) -> list[Any]:
    repeated = sorted(str(value) for value, count in Counter(values).items() if count > 1)
    if repeated:
        raise ValueError(f"{what} must not repeat: {', '.join(repeated[:10])}")
    return values


class Translation(BaseModel):
    """The same alert in another language (a further CAP info block)."""

    model_config = ConfigDict(extra="forbid")

    language: Language
    headline: Headline
    description: Description
    instruction: Instruction | None = None
    # What CAP lets a translated info block say in its own words as well (received CAP:
    # the OASIS examples translate event and areaDesc); unset, the first block's apply.
    event: EventName | None = None
    area_desc: AreaDesc | None = None
    contact: Contact | None = None
    web: Web | None = None


class Circle(BaseModel):
    """A CAP circle: centre in WGS84 and radius in kilometres. Where it may be and how large
    is the targeting contract's (``shared.targeting``), checked with the rest of the target."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(
        gt=0,
        description=f"From {targeting.MIN_CIRCLE_RADIUS_M / 1000:g} to "
        f"{targeting.MAX_CIRCLE_RADIUS_M / 1000:g} km; the centre in Greater London",
        examples=[1.5],
    )


Point = Annotated[list[float], Field(min_length=2, max_length=2)]


class Suspect(BaseModel):
    """A structured description. Ethnic appearance alone describes no one usefully and harms
    many, so a description must carry at least one other descriptor."""

    model_config = ConfigDict(extra="forbid")

    clothing: SuspectText | None = None
    height: SuspectText | None = None
    build: SuspectText | None = None
    vehicle: SuspectText | None = None
    distinguishing_marks: SuspectText | None = None
    age_range: SuspectText | None = None
    appearance: SuspectText | None = Field(
        default=None, description="Ethnic appearance; never accepted as the only descriptor"
    )

    @model_validator(mode="after")
    def _not_ethnicity_only(self) -> Suspect:
        others = (
            self.clothing,
            self.height,
            self.build,
            self.vehicle,
            self.distinguishing_marks,
            self.age_range,
        )
        if not any(others):
            raise ValueError(
                "a suspect description needs clothing, height, build, vehicle, age range or "
                "distinguishing marks; ethnic appearance alone is not accepted"
            )
        return self


class AlertCreate(BaseModel):
    """A new alert (CAP msgType Alert). It starts as a draft; nobody receives it until it is
    published. Everything beyond headline, body, crime type and target has a default."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    headline: Headline = Field(description="One line that says what happened (CAP headline)")
    body: Description = Field(description="What residents should know (CAP description)")
    instruction: Instruction | None = Field(default=None, description="What to do")
    web: Web | None = Field(default=None, description="An https link for more (CAP web)")
    contact: Contact | None = Field(default=None, description="How to respond: 101, a number")
    language: Language = Field(default="en-GB", description="Of headline and body (RFC 3066)")
    translations: list[Translation] = Field(default_factory=list, max_length=MAX_TRANSLATIONS)
    crime_type: CrimeType = Field(description="What the alert is about")
    event: str | None = Field(
        default=None,
        min_length=1,
        max_length=EVENT_MAX_LENGTH,
        pattern=HEADLINE_PATTERN,
        description="CAP event; defaults to the crime type's name",
    )
    categories: list[Category] | None = Field(
        default=None,
        min_length=1,
        max_length=len(Category),
        description="CAP categories; default from the crime type",
    )
    severity: Severity = Field(default=Severity.MODERATE, description="CAP severity")
    urgency: Urgency = Field(default=Urgency.EXPECTED, description="CAP urgency")
    certainty: Certainty = Field(default=Certainty.OBSERVED, description="CAP certainty")
    response_types: list[ResponseType] = Field(default_factory=list, max_length=len(ResponseType))
    cap_status: CapStatus = Field(
        default=CapStatus.ACTUAL, description="Only Actual alerts reach residents"
    )
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=REFERENCE_MAX_LENGTH,
        pattern=REFERENCE_PATTERN,
        description="Crime or CAD reference; required for a witness appeal",
    )
    audience: Audience = Field(default=Audience.RESIDENTS)
    channels: list[Channel] = Field(default_factory=lambda: [Channel.EMAIL], min_length=1)
    area_desc: str | None = Field(
        default=None,
        min_length=1,
        max_length=AREA_DESC_MAX_LENGTH,
        pattern=HEADLINE_PATTERN,
        description="CAP areaDesc; defaults to a list of the codes",
    )
    target_ward_codes: list[WardCode] = Field(
        default_factory=list,
        max_length=MAX_TARGET_WARDS,
        description="ONS codes of the wards whose residents should receive it; no repeats",
    )
    target_borough_codes: list[BoroughCode] = Field(
        default_factory=list,
        max_length=MAX_TARGET_BOROUGHS,
        description="ONS codes of whole boroughs to target",
    )
    target_circles: list[Circle] = Field(default_factory=list, max_length=MAX_CIRCLES)
    target_polygons: list[Annotated[list[Point], Field(max_length=MAX_POLYGON_POINTS)]] = Field(
        default_factory=list,
        max_length=MAX_POLYGONS,
        description="[lat, lon] rings, the first point repeated as the last: at least three "
        "different points, not crossing themselves, every point in Greater London, at most "
        f"{targeting.MAX_POLYGON_AREA_KM2:,.0f} km² (shared/targeting.py)",
    )
    suspects: list[Suspect] = Field(default_factory=list, max_length=MAX_SUSPECTS)
    expires: datetime | None = Field(
        default=None, description="When it stops being current; default 7 days after writing"
    )
    no_victim_details_confirmed: Literal[True] = Field(
        description="The author confirms no victim's personal details are in the alert"
    )

    @field_validator("target_ward_codes")
    @classmethod
    def _wards_unique(cls, codes: list[str]) -> list[str]:
        return _unique(codes, "ward codes")

    @field_validator("target_borough_codes")
    @classmethod
    def _boroughs_unique(cls, codes: list[str]) -> list[str]:
        return _unique(codes, "borough codes")

    @field_validator("channels", "categories", "response_types")
    @classmethod
    def _values_unique(cls, values: list[Any] | None) -> list[Any] | None:
        return None if values is None else _unique(values, "values")

    @field_validator("expires")
    @classmethod
    def _expires_has_zone(cls, expires: datetime | None) -> datetime | None:
        if expires is not None and expires.tzinfo is None:
            raise ValueError("expires needs a time zone offset")
        return expires

    @model_validator(mode="after")
    def _rules_by_type(self) -> AlertCreate:
        if not self.target_ward_codes and not self.target_borough_codes:
            raise ValueError("target at least one ward or borough code")
        if self.crime_type is CrimeType.WITNESS_APPEAL:
            if self.reference is None:
                raise ValueError("a witness appeal needs a crime or CAD reference")
            if self.contact is None and self.web is None:
                raise ValueError("a witness appeal needs a contact route (contact or web)")
        if self.crime_type is CrimeType.MISSING_PERSON and self.contact is None:
            raise ValueError("a missing person alert needs a contact route")
        languages = [self.language, *(t.language for t in self.translations)]
        _unique([language.lower() for language in languages], "languages")
        return self


_NEVER_CLEARED = frozenset(
    {"headline", "body", "severity", "urgency", "certainty", "expires", "crime_type"}
)


class AlertChange(BaseModel):
    """An Update to a published alert: what changes. It goes to the same recipients."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    headline: Headline | None = None
    body: Description | None = None
    instruction: Instruction | None = None
    web: Web | None = None
    contact: Contact | None = None
    severity: Severity | None = None
    urgency: Urgency | None = None
    certainty: Certainty | None = None
    crime_type: CrimeType | None = Field(
        default=None,
        description="What the crime turned out to be; the CAP event and categories follow, "
        "and the dashboard counts the alert under it from now on",
    )
    suspects: list[Suspect] | None = Field(default=None, max_length=MAX_SUSPECTS)
    expires: datetime | None = None
    no_victim_details_confirmed: Literal[True]

    @model_validator(mode="after")
    def _changes_something(self) -> AlertChange:
        changed = self.model_fields_set - {"no_victim_details_confirmed"}
        if not changed:
            raise ValueError("an update must change at least one field")
        # These may change but not be cleared: every message has them.
        cleared = sorted(name for name in changed & _NEVER_CLEARED if getattr(self, name) is None)
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be cleared, only changed")
        if self.expires is not None and self.expires.tzinfo is None:
            raise ValueError("expires needs a time zone offset")
        return self


class Outcome(BaseModel):
    """The "resolved" message: what happened, to everyone who received the alert."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    headline: Headline | None = Field(default=None, description="Default: Resolved: <headline>")
    body: Description = Field(description="A suspect has been arrested. Thank you.")
    no_victim_details_confirmed: Literal[True]


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Description = Field(description="Why; sent to recipients as the Cancel's text")


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    publish_at: datetime = Field(description="When to publish, with a time zone offset")

    @field_validator("publish_at")
    @classmethod
    def _has_zone(cls, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("publish_at needs a time zone offset")
        return at


class Reclassification(BaseModel):
    """An officer's correction of an alert's crime type (before approval, or once published)."""

    model_config = ConfigDict(extra="forbid")

    crime_type: CrimeType = Field(examples=["burglary"])


class ReturnToDraft(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=500, pattern=HEADLINE_PATTERN)


class Approval(BaseModel):
    """One officer's sign-off, for the touched boroughs they command. On an Update held for
    approval, the first is the officer who asked for it."""

    officer_id: uuid.UUID
    pseudonym: str
    boroughs: list[str]
    at: datetime


class Alert(BaseModel):
    """An alert (one CAP message) as staff see it."""

    id: uuid.UUID
    identifier: str
    sender: str
    sent: datetime | None
    status: AlertState = Field(description="Tawny workflow state")
    cap_status: CapStatus
    msg_type: MsgType
    scope: Scope
    references: uuid.UUID | None = Field(description="The original alert, for Update/Cancel")
    language: str
    categories: list[Category]
    event: str
    response_types: list[ResponseType]
    headline: str
    body: str
    instruction: str | None
    web: str | None
    contact: str | None
    translations: list[Translation]
    crime_type: CrimeType
    crime_type_derived: bool = Field(
        default=False,
        description="Received CAP that named no tawny:crimeType: the crime type was derived "
        "from its category, event and eventCode (cap/crime_types.py) and an officer may "
        "correct it before approval (PUT /alerts/{id}/crime-type)",
    )
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    reference: str | None
    audience: Audience
    channels: list[Channel]
    area_desc: str
    target_ward_codes: list[str]
    target_borough_codes: list[str]
    target_circles: list[Circle]
    target_polygons: list[list[list[float]]]
    touched_borough_codes: list[str] = Field(
        description="Every borough the target touches; an officer of each must approve it"
    )
    touched_ward_codes: list[str] = Field(
        description="Every ward the target touches (its ward codes and wards under its shapes)"
    )
    suspects: list[Suspect]
    expires: datetime
    author_id: uuid.UUID = Field(description="The member id of whoever wrote it")
    author_pseudonym: str
    approver_ids: list[uuid.UUID]
    approvals: list[Approval]
    release_state: AlertState | None = Field(
        description="An Update held for approval: what the original becomes when it goes out "
        "(updated, or resolved for an outcome)"
    )
    scheduled_for: datetime | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    targeting: Targeting = Field(
        description="Whether geo could resolve every part of the target once published"
    )

    @classmethod
    def from_model(cls, alert: models.Alert) -> Alert:
        return cls(
            id=alert.id,
            identifier=alert.identifier,
            sender=alert.sender,
            sent=alert.sent,
            status=alert.state,
            cap_status=alert.cap_status,
            msg_type=alert.msg_type,
            scope=alert.scope,
            references=alert.references_id,
            language=alert.language,
            categories=[Category(value) for value in alert.categories],
            event=alert.event,
            response_types=[ResponseType(value) for value in alert.response_types],
            headline=alert.headline,
            body=alert.body,
            instruction=alert.instruction,
            web=alert.web,
            contact=alert.contact,
            translations=[Translation.model_validate(t) for t in alert.translations],
            crime_type=alert.crime_type,
            crime_type_derived=alert.crime_type_derived,
            severity=alert.severity,
            urgency=alert.urgency,
            certainty=alert.certainty,
            reference=alert.reference,
            audience=alert.audience,
            channels=[Channel(value) for value in alert.channels],
            area_desc=alert.area_desc,
            target_ward_codes=list(alert.target_ward_codes),
            target_borough_codes=list(alert.target_borough_codes),
            target_circles=[Circle.model_validate(c) for c in alert.target_circles],
            target_polygons=alert.target_polygons,
            touched_borough_codes=list(alert.touched_borough_codes),
            touched_ward_codes=list(alert.touched_ward_codes),
            suspects=[Suspect.model_validate(s) for s in alert.suspects],
            expires=alert.expires,
            author_id=alert.author_id,
            author_pseudonym=alert.author_pseudonym,
            approver_ids=list(alert.approver_ids),
            approvals=[Approval.model_validate(a) for a in alert.approvals],
            release_state=alert.release_state,
            scheduled_for=alert.scheduled_for,
            created_at=alert.created_at,
            updated_at=alert.updated_at,
            published_at=alert.published_at,
            targeting=Targeting.of(alert),
        )


class TargetFailure(BaseModel):
    part: str = Field(examples=["target_circles[0]"])
    field: str = Field(examples=["target_circles[0].radius_km"])
    reason: str = Field(examples=["outside-london"])
    detail: str


class Targeting(BaseModel):
    """What geo reported on resolving this message's target (``audience.resolved``)."""

    status: Literal["not_sent", "waiting", "resolved", "failed"] = Field(
        description="not_sent: not published (or not Actual); waiting: published, geo has not "
        "reported yet (or a retry is under way); resolved: every part reached its audience; "
        "failed: some parts could not be used (the rest went out): see failures, fix, retry"
    )
    reported_at: datetime | None
    recipients: int | None = Field(description="Members geo found for the usable parts")
    failures: list[TargetFailure]
    retry_requested_at: datetime | None

    @classmethod
    def of(cls, alert: models.Alert) -> Targeting:
        status: Literal["not_sent", "waiting", "resolved", "failed"]
        retrying = alert.targeting_retry_requested_at is not None and (
            alert.targeting_reported_at is None
            or alert.targeting_reported_at < alert.targeting_retry_requested_at
        )
        if alert.published_at is None or alert.cap_status is not CapStatus.ACTUAL:
            status = "not_sent"
        elif alert.targeting_reported_at is None or retrying:
            status = "waiting"
        else:
            status = "failed" if alert.targeting_failures else "resolved"
        return cls(
            status=status,
            reported_at=alert.targeting_reported_at,
            recipients=alert.targeting_recipients,
            failures=[TargetFailure.model_validate(f) for f in alert.targeting_failures],
            retry_requested_at=alert.targeting_retry_requested_at,
        )


class AuditRecord(BaseModel):
    action: AuditAction
    from_state: str | None
    to_state: str
    message_id: uuid.UUID | None
    actor_id: uuid.UUID | None = Field(
        description="None when the platform acted (schedule, expiry)"
    )
    actor_pseudonym: str | None
    note: str | None
    at: datetime

    @classmethod
    def from_model(cls, entry: models.AuditEntry) -> AuditRecord:
        return cls(
            action=entry.action,
            from_state=entry.from_state,
            to_state=entry.to_state,
            message_id=entry.message_id,
            actor_id=entry.actor_id,
            actor_pseudonym=entry.actor_pseudonym,
            note=entry.note,
            at=entry.at,
        )


class SmsPreviewOut(BaseModel):
    text: str
    encoding: Literal["GSM-7", "UCS-2"]
    units: int = Field(description="Septets (GSM-7) or UTF-16 code units (UCS-2)")
    segments: int
    non_gsm_characters: list[str]


class PushPreviewOut(BaseModel):
    title: str
    body: str
    title_truncated: bool
    body_truncated: bool


class EmailPreviewOut(BaseModel):
    subject: str
    subject_truncated: bool


class ChannelPreview(BaseModel):
    """How the alert will look on each channel it would go out on."""

    email: EmailPreviewOut | None = None
    sms: SmsPreviewOut | None = None
    push: PushPreviewOut | None = None
