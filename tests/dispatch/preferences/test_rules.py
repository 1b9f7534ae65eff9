"""What preferences mean for one alert: channels, quiet hours across the clock changes, digests,
language. Pure functions: no database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

import pytest

from services.dispatch.models import ChannelKind, DeliveryStatus
from services.dispatch.preferences.rules import (
    ALERT_CHANNELS,
    DEFAULT_PREFERENCES,
    DeliveryTarget,
    Preferences,
    QuietHours,
    choose_channels,
    choose_language,
    deliver_not_before,
    next_digest_at,
    plan_deliveries,
)
from tests.dispatch.helpers import alert_content

EMAIL, WEBPUSH, FCM, SMS = ChannelKind.EMAIL, ChannelKind.WEBPUSH, ChannelKind.FCM, ChannelKind.SMS
NIGHT = Preferences(quiet_hours=QuietHours(time(22, 0), time(7, 0)))


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class TestChooseChannels:
    def test_defaults_send_sms_only_for_severe_and_extreme(self) -> None:
        for severity in ("Extreme", "Severe"):
            chosen = choose_channels(
                DEFAULT_PREFERENCES, alert_content(severity=severity), ALERT_CHANNELS
            )
            assert chosen == {EMAIL, WEBPUSH, FCM, SMS}
        for severity in ("Moderate", "Minor", "Unknown"):
            chosen = choose_channels(
                DEFAULT_PREFERENCES, alert_content(severity=severity), ALERT_CHANNELS
            )
            assert chosen == {EMAIL, WEBPUSH, FCM}

    def test_only_channels_the_member_can_be_reached_on(self) -> None:
        chosen = choose_channels(DEFAULT_PREFERENCES, alert_content(severity="Extreme"), {EMAIL})

        assert chosen == {EMAIL}

    def test_follows_the_members_choice_per_severity(self) -> None:
        preferences = Preferences(
            severity_channels={**DEFAULT_PREFERENCES.severity_channels, "Minor": frozenset()}
        )

        assert (
            choose_channels(preferences, alert_content(severity="Minor"), ALERT_CHANNELS) == set()
        )
        assert choose_channels(preferences, alert_content(severity="Severe"), {SMS}) == {SMS}

    def test_a_severity_outside_cap_counts_as_unknown(self) -> None:
        preferences = Preferences(
            severity_channels={**DEFAULT_PREFERENCES.severity_channels, "Unknown": frozenset({SMS})}
        )

        assert choose_channels(preferences, alert_content(severity="Odd"), ALERT_CHANNELS) == {SMS}

    def test_nothing_after_unsubscribing_from_everything(self) -> None:
        preferences = Preferences(unsubscribed_all=True)

        chosen = choose_channels(preferences, alert_content(severity="Extreme"), ALERT_CHANNELS)

        assert chosen == set()

    def test_nothing_for_an_unsubscribed_category_and_the_rest_as_usual(self) -> None:
        preferences = Preferences(unsubscribed_categories=frozenset({"burglary"}))

        assert choose_channels(preferences, alert_content(category="burglary"), {EMAIL}) == set()
        assert choose_channels(preferences, alert_content(category="robbery"), {EMAIL}) == {EMAIL}


class TestQuietHours:
    def test_an_alert_outside_the_window_goes_now(self) -> None:
        now = utc(2026, 11, 23, 12, 0)

        assert deliver_not_before(NIGHT, alert_content(), now) == now

    def test_an_alert_late_in_the_evening_waits_for_the_morning(self) -> None:
        now = utc(2026, 11, 23, 23, 15)  # 23:15 GMT

        assert deliver_not_before(NIGHT, alert_content(), now) == utc(2026, 11, 24, 7, 0)

    def test_an_alert_after_midnight_waits_until_the_same_mornings_end(self) -> None:
        now = utc(2026, 11, 24, 3, 0)

        assert deliver_not_before(NIGHT, alert_content(), now) == utc(2026, 11, 24, 7, 0)

    def test_an_immediate_alert_does_not_wait(self) -> None:
        now = utc(2026, 11, 23, 23, 15)

        assert deliver_not_before(NIGHT, alert_content(urgency="Immediate"), now) == now

    def test_the_window_is_in_london_time_in_summer(self) -> None:
        # 21:30 UTC in July is 22:30 BST: inside; the window ends at 07:00 BST, 06:00 UTC.
        now = utc(2026, 7, 1, 21, 30)

        assert deliver_not_before(NIGHT, alert_content(), now) == utc(2026, 7, 2, 6, 0)

    def test_a_window_within_one_day(self) -> None:
        afternoon = Preferences(quiet_hours=QuietHours(time(13, 0), time(15, 30)))

        assert deliver_not_before(afternoon, alert_content(), utc(2026, 11, 23, 14, 0)) == utc(
            2026, 11, 23, 15, 30
        )
        assert deliver_not_before(afternoon, alert_content(), utc(2026, 11, 23, 15, 30)) == utc(
            2026, 11, 23, 15, 30
        )

    def test_across_the_march_clock_change(self) -> None:
        # Clocks go forward at 01:00 GMT on Sunday 29 March 2026. 23:30 GMT on Saturday is
        # inside; the window ends at 07:00 BST on Sunday, which is 06:00 UTC.
        now = utc(2026, 3, 28, 23, 30)

        assert deliver_not_before(NIGHT, alert_content(), now) == utc(2026, 3, 29, 6, 0)

    def test_across_the_october_clock_change(self) -> None:
        # Clocks go back at 02:00 BST (01:00 UTC) on Sunday 25 October 2026. 23:30 BST on
        # Saturday (22:30 UTC) is inside; the window ends at 07:00 GMT, which is 07:00 UTC.
        now = utc(2026, 10, 24, 22, 30)

        assert deliver_not_before(NIGHT, alert_content(), now) == utc(2026, 10, 25, 7, 0)

    def test_inside_the_repeated_hour_of_october(self) -> None:
        # 01:30 UTC on 25 October is 01:30 GMT, the second 01:30 of the night: inside.
        now = utc(2026, 10, 25, 1, 30)

        assert deliver_not_before(NIGHT, alert_content(), now) == utc(2026, 10, 25, 7, 0)

    def test_a_window_ending_in_the_skipped_hour_ends_after_the_change_not_before(self) -> None:
        # 01:30 does not exist on 29 March 2026: the window ends at 02:30 BST (01:30 UTC),
        # never early.
        short = Preferences(quiet_hours=QuietHours(time(0, 0), time(1, 30)))
        now = utc(2026, 3, 29, 0, 45)  # 00:45 GMT

        assert deliver_not_before(short, alert_content(), now) == utc(2026, 3, 29, 1, 30)


class TestDigest:
    def test_the_next_digest_is_today_if_its_hour_is_still_to_come(self) -> None:
        morning = Preferences(digest_hour=8)

        assert next_digest_at(morning, utc(2026, 11, 23, 6, 0)) == utc(2026, 11, 23, 8, 0)

    def test_the_next_digest_is_tomorrow_once_its_hour_has_passed(self) -> None:
        morning = Preferences(digest_hour=8)

        assert next_digest_at(morning, utc(2026, 11, 23, 8, 0)) == utc(2026, 11, 24, 8, 0)

    def test_the_digest_hour_is_london_time_across_the_clock_changes(self) -> None:
        morning = Preferences(digest_hour=8)

        # Saturday 28 March 09:00 GMT: the next is Sunday 08:00 BST, 07:00 UTC.
        assert next_digest_at(morning, utc(2026, 3, 28, 9, 0)) == utc(2026, 3, 29, 7, 0)
        # Saturday 24 October 09:00 BST: the next is Sunday 08:00 GMT, 08:00 UTC.
        assert next_digest_at(morning, utc(2026, 10, 24, 8, 0)) == utc(2026, 10, 25, 8, 0)

    def test_needs_a_digest_hour(self) -> None:
        with pytest.raises(ValueError, match="digest hour"):
            next_digest_at(DEFAULT_PREFERENCES, utc(2026, 11, 23, 6, 0))


class TestPlanDeliveries:
    def test_drops_unwanted_channels_holds_digest_email_and_delays_for_quiet_hours(self) -> None:
        plain, digest, quiet, gone = (uuid.uuid4() for _ in range(4))
        now = utc(2026, 11, 23, 23, 0)
        content = alert_content(severity="Minor")
        preferences = {
            digest: Preferences(digest_hour=8),
            quiet: NIGHT,
            gone: Preferences(unsubscribed_all=True),
        }
        created = DeliveryStatus.CREATED
        targets = [
            (member, channel, created)
            for member in (plain, digest, quiet, gone)
            for channel in (EMAIL, SMS, WEBPUSH)
        ]

        planned = plan_deliveries(targets, preferences, content, now)

        assert set(planned) == {
            DeliveryTarget(plain, EMAIL, created, now),
            DeliveryTarget(plain, WEBPUSH, created, now),
            DeliveryTarget(digest, EMAIL, DeliveryStatus.HELD, utc(2026, 11, 24, 8, 0)),
            DeliveryTarget(digest, WEBPUSH, created, now),
            DeliveryTarget(quiet, EMAIL, created, utc(2026, 11, 24, 7, 0)),
            DeliveryTarget(quiet, WEBPUSH, created, utc(2026, 11, 24, 7, 0)),
        }

    def test_an_immediate_low_severity_alert_is_not_held_for_the_digest(self) -> None:
        member = uuid.uuid4()
        now = utc(2026, 11, 23, 12, 0)
        content = alert_content(severity="Minor", urgency="Immediate")

        planned = plan_deliveries(
            [(member, EMAIL, DeliveryStatus.CREATED)],
            {member: Preferences(digest_hour=8)},
            content,
            now,
        )

        assert planned == [DeliveryTarget(member, EMAIL, DeliveryStatus.CREATED, now)]

    def test_keeps_a_pending_row_only_for_a_wanted_channel(self) -> None:
        wants_email, unsubscribed = uuid.uuid4(), uuid.uuid4()
        pending = DeliveryStatus.PENDING

        planned = plan_deliveries(
            [(wants_email, EMAIL, pending), (unsubscribed, EMAIL, pending)],
            {unsubscribed: Preferences(unsubscribed_categories=frozenset({"burglary"}))},
            alert_content(category="burglary"),
            utc(2026, 11, 23, 12, 0),
        )

        assert planned == [DeliveryTarget(wants_email, EMAIL, pending)]


class TestChooseLanguage:
    def test_the_members_language_when_the_alert_has_it(self) -> None:
        assert choose_language({"en", "cy"}, "cy") == "cy"

    def test_english_when_the_alert_lacks_the_members_language(self) -> None:
        assert choose_language({"en"}, "cy") == "en"

    def test_whatever_the_alert_has_when_it_has_no_english(self) -> None:
        assert choose_language({"pl"}, "cy") == "pl"
