"""How a member reads and sets their alert preferences."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.dispatch.models import CATEGORY_MAX_LENGTH, ChannelKind
from services.dispatch.preferences.rules import (
    ALERT_CHANNELS,
    DEFAULT_DIGEST_SEVERITIES,
    DEFAULT_LANGUAGE,
    DEFAULT_SEVERITY_CHANNELS,
    LANGUAGES,
    SEVERITIES,
    Preferences,
    QuietHours,
)

Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Language = Literal["en", "cy", "pl", "ro", "bn", "pa", "ur", "pt", "es", "ar", "tr", "so"]
Category = Annotated[
    str,
    StringConstraints(min_length=1, max_length=CATEGORY_MAX_LENGTH, pattern=r"^[A-Za-z0-9_-]+$"),
]
MAX_CATEGORIES = 50

_EXAMPLE: dict[str, Any] = {
    "channels": {
        "Extreme": ["email", "webpush", "fcm", "sms"],
        "Severe": ["email", "webpush", "fcm", "sms"],
        "Moderate": ["email", "webpush"],
        "Minor": ["email"],
        "Unknown": ["email"],
    },
    "quiet_hours": {"start": "22:30", "end": "07:00"},
    "digest_hour": 8,
    "digest_severities": ["Minor", "Unknown"],
    "language": "cy",
    "unsubscribed_all": False,
    "unsubscribed_categories": ["antisocial_behaviour"],
}


def _default_channels() -> dict[Severity, list[ChannelKind]]:
    return {severity: sorted(DEFAULT_SEVERITY_CHANNELS[severity]) for severity in SEVERITIES}


class QuietHoursWindow(BaseModel):
    """A daily window in London time (GMT or BST, whichever is in force) in which alerts that
    are not Immediate wait; ``start`` after ``end`` crosses midnight."""

    model_config = ConfigDict(extra="forbid")

    start: time = Field(description="When the window opens, HH:MM London time")
    end: time = Field(description="When it closes, HH:MM London time; not equal to start")

    @field_validator("start", "end")
    @classmethod
    def _minutes_only(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a wall-clock time in London, without an offset")
        return value.replace(second=0, microsecond=0)

    def model_post_init(self, _context: Any) -> None:
        if self.start == self.end:
            raise ValueError("start and end must differ")


class PreferencesDocument(BaseModel):
    """A member's whole preferences. PUT replaces them all: a field left out takes its
    default (a severity left out of ``channels`` too)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    channels: dict[Severity, list[ChannelKind]] = Field(
        default_factory=_default_channels,
        description="For each CAP severity, the channels its alerts reach the member on (among "
        "those they can be reached on). Default: email and push for all, SMS too for Severe "
        "and Extreme. Letters never carry alerts",
    )
    quiet_hours: QuietHoursWindow | None = Field(
        default=None, description="Alerts that are not Immediate wait until the window ends"
    )
    digest_hour: int | None = Field(
        default=None,
        ge=0,
        le=23,
        description="The London hour of a daily email listing the low-severity alerts of the "
        "past day, instead of one email each; null: no digest",
    )
    digest_severities: list[Severity] = Field(
        default_factory=lambda: sorted(DEFAULT_DIGEST_SEVERITIES),  # type: ignore[arg-type]
        max_length=len(SEVERITIES),
        description="The severities whose emails wait for the digest (when digest_hour is set)",
    )
    language: Language = Field(
        default=DEFAULT_LANGUAGE,
        description="The language to show an alert in when it has a version in that language; "
        "English otherwise. Alerts are published in English only today",
    )
    unsubscribed_all: bool = Field(default=False, description="No alerts at all")
    unsubscribed_categories: list[Category] = Field(
        default_factory=list,
        max_length=MAX_CATEGORIES,
        description="Categories of alerts (crime types) the member wants no alerts about",
    )

    @field_validator("channels")
    @classmethod
    def _alert_channels_only(
        cls, value: dict[Severity, list[ChannelKind]]
    ) -> dict[Severity, list[ChannelKind]]:
        for kinds in value.values():
            if not set(kinds) <= ALERT_CHANNELS:
                raise ValueError("letters never carry alerts")
        completed = _default_channels()
        completed.update({severity: sorted(set(kinds)) for severity, kinds in value.items()})
        return completed

    @classmethod
    def from_preferences(cls, preferences: Preferences) -> PreferencesDocument:
        quiet = preferences.quiet_hours
        return cls(
            channels={
                severity: sorted(preferences.channels_for(severity)) for severity in SEVERITIES
            },
            quiet_hours=QuietHoursWindow(start=quiet.start, end=quiet.end) if quiet else None,
            digest_hour=preferences.digest_hour,
            digest_severities=sorted(preferences.digest_severities),
            language=preferences.language,
            unsubscribed_all=preferences.unsubscribed_all,
            unsubscribed_categories=sorted(preferences.unsubscribed_categories),
        )

    def to_preferences(self) -> Preferences:
        quiet = self.quiet_hours
        return Preferences(
            severity_channels={s: frozenset(kinds) for s, kinds in self.channels.items()},
            quiet_hours=QuietHours(quiet.start, quiet.end) if quiet else None,
            digest_hour=self.digest_hour,
            digest_severities=frozenset(self.digest_severities),
            language=self.language,
            unsubscribed_all=self.unsubscribed_all,
            unsubscribed_categories=frozenset(self.unsubscribed_categories),
        )


assert set(LANGUAGES) == set(Language.__args__), "the API's languages are the rules' languages"  # type: ignore[attr-defined]
