"""What a member's preferences mean for one alert: pure functions, no I/O.

The batch consumer applies them when it records deliveries (:func:`plan_deliveries`):

- **channels** (:func:`choose_channels`): the channels the member wants for the alert's
  severity, among those they can be reached on; none if they unsubscribed from everything or
  from the alert's category;
- **quiet hours** (:func:`deliver_not_before`): a window in Europe/London wall-clock time,
  which may cross midnight (22:00 to 07:00). An alert that comes inside it waits until the
  window ends, unless its urgency is Immediate;
- **digest** (:func:`next_digest_at`): with a digest hour set, email for the chosen low
  severities (Minor and Unknown by default) is held and sent in one daily email at that London
  hour; the other channels the member wants for that severity are not held.

Times are computed in Europe/London with :mod:`zoneinfo`, so a window is right on both sides of
the clock changes. A wall-clock time the change skips (01:30 on the last Sunday of March) is
read with the offset before the change, so it falls an hour later on the new clock (02:30 BST):
a window never ends early. A time that happens twice (01:30 on the last Sunday of October) is
its first occurrence.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.dispatch.models import ChannelKind, DeliveryStatus, MemberPreferences
from shared.events import AlertContent


def _london() -> tzinfo:
    try:
        return ZoneInfo("Europe/London")
    except ZoneInfoNotFoundError:  # a slim image without tzdata: UTC is still unambiguous
        return UTC


LONDON: Final = _london()

# CAP 1.2 severities, most severe first.
SEVERITIES: Final = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
# Letters carry address-verification codes, never alerts.
ALERT_CHANNELS: Final = frozenset(
    {ChannelKind.EMAIL, ChannelKind.WEBPUSH, ChannelKind.FCM, ChannelKind.SMS}
)
_EVERYDAY_CHANNELS: Final = frozenset({ChannelKind.EMAIL, ChannelKind.WEBPUSH, ChannelKind.FCM})
# SMS costs money and interrupts: by default only for alerts that may put someone in danger.
DEFAULT_SEVERITY_CHANNELS: Final[Mapping[str, frozenset[ChannelKind]]] = {
    "Extreme": ALERT_CHANNELS,
    "Severe": ALERT_CHANNELS,
    "Moderate": _EVERYDAY_CHANNELS,
    "Minor": _EVERYDAY_CHANNELS,
    "Unknown": _EVERYDAY_CHANNELS,
}
DEFAULT_DIGEST_SEVERITIES: Final = frozenset({"Minor", "Unknown"})
DEFAULT_LANGUAGE: Final = "en"
# English, Welsh, and the languages most spoken in London after English (2021 census).
LANGUAGES: Final = ("en", "cy", "pl", "ro", "bn", "pa", "ur", "pt", "es", "ar", "tr", "so")
URGENT: Final = "Immediate"


@dataclass(frozen=True)
class QuietHours:
    """From ``start`` to ``end`` in London wall-clock time; ``start > end`` crosses midnight."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class Preferences:
    severity_channels: Mapping[str, frozenset[ChannelKind]] = field(
        default_factory=lambda: dict(DEFAULT_SEVERITY_CHANNELS)
    )
    quiet_hours: QuietHours | None = None
    digest_hour: int | None = None
    digest_severities: frozenset[str] = DEFAULT_DIGEST_SEVERITIES
    language: str = DEFAULT_LANGUAGE
    unsubscribed_all: bool = False
    unsubscribed_categories: frozenset[str] = frozenset()

    @classmethod
    def from_model(cls, row: MemberPreferences) -> Preferences:
        channels = dict(DEFAULT_SEVERITY_CHANNELS)
        for severity, kinds in row.severity_channels.items():
            channels[severity] = frozenset(ChannelKind(kind) for kind in kinds)
        quiet = (
            QuietHours(row.quiet_start, row.quiet_end)
            if row.quiet_start is not None and row.quiet_end is not None
            else None
        )
        return cls(
            severity_channels=channels,
            quiet_hours=quiet,
            digest_hour=row.digest_hour,
            digest_severities=frozenset(row.digest_severities),
            language=row.language,
            unsubscribed_all=row.unsubscribed_all,
            unsubscribed_categories=frozenset(row.unsubscribed_categories),
        )

    def channels_for(self, severity: str) -> frozenset[ChannelKind]:
        # An alert with a severity outside CAP's list is treated as CAP's own "Unknown".
        known = severity if severity in self.severity_channels else "Unknown"
        return self.severity_channels.get(known, DEFAULT_SEVERITY_CHANNELS["Unknown"])


DEFAULT_PREFERENCES: Final = Preferences()


def choose_channels(
    preferences: Preferences, content: AlertContent, available: Collection[ChannelKind]
) -> set[ChannelKind]:
    """The channels this alert goes out on for this member: wanted for its severity, and
    among ``available`` (where the member can be reached)."""
    if preferences.unsubscribed_all or content.category in preferences.unsubscribed_categories:
        return set()
    return set(preferences.channels_for(content.severity)) & set(available)


def _at_london(day: datetime, wall_clock: time) -> datetime:
    """``wall_clock`` on ``day``'s London date, as a UTC instant (see the module's notes)."""
    local = datetime.combine(day.date(), wall_clock, tzinfo=LONDON)
    return local.astimezone(UTC)


def deliver_not_before(preferences: Preferences, content: AlertContent, now: datetime) -> datetime:
    """When the alert may first be sent: ``now``, or the end of the member's quiet hours if
    ``now`` is inside them and the alert is not Immediate."""
    if content.urgency == URGENT:
        return now
    return after_quiet_hours(preferences, now)


def after_quiet_hours(preferences: Preferences, moment: datetime) -> datetime:
    """``moment``, or the end of the member's quiet hours if it falls inside them."""
    quiet = preferences.quiet_hours
    if quiet is None:
        return moment
    local = moment.astimezone(LONDON)
    if not quiet.contains(local.time()):
        return moment
    end_day = local
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_day = local + timedelta(days=1)
    return max(moment, _at_london(end_day, quiet.end))


def is_for_digest(preferences: Preferences, content: AlertContent) -> bool:
    return (
        preferences.digest_hour is not None
        and content.severity in preferences.digest_severities
        and content.urgency != URGENT
    )


def next_digest_at(preferences: Preferences, now: datetime) -> datetime:
    """The next time the member's digest goes out, strictly after ``now``: at the digest hour,
    or when the member's quiet hours end if the hour falls inside them."""
    if preferences.digest_hour is None:
        raise ValueError("the member has no digest hour")
    local = now.astimezone(LONDON)
    digest_time = time(preferences.digest_hour)
    today = _at_london(local, digest_time)
    if today > now:
        return after_quiet_hours(preferences, today)
    return after_quiet_hours(preferences, _at_london(local + timedelta(days=1), digest_time))


def choose_language(available: Collection[str], preferred: str) -> str:
    """The language to show: the member's if the alert has a block in it, else English, else
    whatever the alert has."""
    if preferred in available:
        return preferred
    if DEFAULT_LANGUAGE in available or not available:
        return DEFAULT_LANGUAGE
    return sorted(available)[0]


class DeliveryTarget(NamedTuple):
    """One delivery row to record: whom, on which channel, its first status and when it is due
    (None: now), and to which of the member's endpoints (None until planned per device, and
    for a pending row)."""

    member_id: uuid.UUID
    channel: ChannelKind
    status: DeliveryStatus
    next_attempt_at: datetime | None = None
    endpoint_id: uuid.UUID | None = None


def plan_deliveries(
    targets: Sequence[tuple[uuid.UUID, ChannelKind, DeliveryStatus]],
    preferences: Mapping[uuid.UUID, Preferences],
    content: AlertContent,
    now: datetime,
) -> list[DeliveryTarget]:
    """The rows the batch consumer proposed, as the members want them: unwanted channels
    dropped, the rest due at the end of quiet hours, or ``held`` for the digest (email only).
    A ``pending`` row (no endpoint yet) is kept only if its channel is wanted; when it is
    released, :func:`replan_unsent` applies quiet hours and the digest to it."""
    channels_by_member: dict[uuid.UUID, set[ChannelKind]] = defaultdict(set)
    for member_id, channel, _status in targets:
        channels_by_member[member_id].add(channel)
    planned: list[DeliveryTarget] = []
    chosen: dict[uuid.UUID, set[ChannelKind]] = {}
    for member_id, channel, status in targets:
        member_preferences = preferences.get(member_id, DEFAULT_PREFERENCES)
        if member_id not in chosen:
            chosen[member_id] = choose_channels(
                member_preferences, content, channels_by_member[member_id]
            )
        if channel not in chosen[member_id]:
            continue
        if status is not DeliveryStatus.CREATED:
            planned.append(DeliveryTarget(member_id, channel, status))
        elif channel is ChannelKind.EMAIL and is_for_digest(member_preferences, content):
            planned.append(
                DeliveryTarget(
                    member_id,
                    channel,
                    DeliveryStatus.HELD,
                    next_digest_at(member_preferences, now),
                )
            )
        else:
            planned.append(
                DeliveryTarget(
                    member_id, channel, status, deliver_not_before(member_preferences, content, now)
                )
            )
    return planned


class UnsentDelivery(NamedTuple):
    """A delivery not yet handed to a provider (``created``, ``held`` or ``pending``)."""

    delivery_id: uuid.UUID
    channel: ChannelKind
    status: DeliveryStatus
    next_attempt_at: datetime
    attempts: int


class Replanned(NamedTuple):
    """What an unsent delivery becomes: its status and when it is due, or ``FAILED`` when
    the member no longer wants it."""

    delivery_id: uuid.UUID
    status: DeliveryStatus
    next_attempt_at: datetime


def replan_unsent(
    delivery: UnsentDelivery, preferences: Preferences, content: AlertContent, now: datetime
) -> Replanned | None:
    """An unsent delivery as the member's preferences now make it (after they changed them,
    or once a pending delivery is released): dropped (``FAILED``) if its channel is no longer
    wanted, ``held`` for the digest or due when quiet hours end otherwise. ``pending`` rows
    stay pending (they wait for an endpoint); None when nothing changes. A row waiting after
    a temporary failure keeps its backoff."""
    if not choose_channels(preferences, content, {delivery.channel}):
        return Replanned(delivery.delivery_id, DeliveryStatus.FAILED, now)
    if delivery.status is DeliveryStatus.PENDING:
        return None
    if delivery.channel is ChannelKind.EMAIL and is_for_digest(preferences, content):
        if delivery.status is DeliveryStatus.HELD and delivery.next_attempt_at <= now:
            return None  # due: the digest job takes it now
        wanted = Replanned(
            delivery.delivery_id, DeliveryStatus.HELD, next_digest_at(preferences, now)
        )
    else:
        due = deliver_not_before(preferences, content, now)
        if delivery.status is DeliveryStatus.CREATED and delivery.attempts > 0:
            due = max(due, delivery.next_attempt_at)
        wanted = Replanned(delivery.delivery_id, DeliveryStatus.CREATED, due)
    if (wanted.status, wanted.next_attempt_at) == (delivery.status, delivery.next_attempt_at):
        return None
    return wanted
