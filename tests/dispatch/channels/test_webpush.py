"""The web push channel against the real push sink: what it renders, that the sink decrypts
exactly that, and how each reply is classified; and through the delivery worker, that a 410
disables the endpoint and a 429's Retry-After delays the retry."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.sinks.webpush import Fault, WebPushSink, subscription_id
from services.dispatch.channels.base import MAX_RETRY_AFTER_S, Outcome, Recipient, parse_retry_after
from services.dispatch.channels.ratelimit import TokenBucket
from services.dispatch.channels.webpush import (
    MAX_PAYLOAD_BYTES,
    PushSubscription,
    VapidSigner,
    WebPushChannel,
    _payload,
    check_subscription_keys,
    parse_subscription_address,
    subscription_address,
)
from services.dispatch.config import DispatchSettings, new_vapid_private_key
from services.dispatch.deliveries.service import DeliveryService
from services.dispatch.deliveries.worker import DeliveryWorker
from services.dispatch.members.repository import MemberEndpointRepository
from services.dispatch.models import ChannelKind, Delivery, DeliveryStatus
from shared.db import session_scope, utcnow
from shared.settings import Environment
from tests.dispatch.helpers import (
    alert_content,
    driven_worker_settings,
    endpoint_of,
    recipient_batch,
)

# An address verified a day before the test runs: never a fixed date, whose alerts would expire.
VERIFIED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def subscribed(sink: WebPushSink, channel: WebPushChannel) -> tuple[dict[str, Any], Recipient]:
    """A browser's subscription bound to the channel's VAPID key, as a recipient."""
    subscription = sink.subscribe(channel.signer.application_server_key)
    address = subscription_address(
        PushSubscription(
            endpoint=subscription["endpoint"],
            p256dh=subscription["keys"]["p256dh"],
            auth=subscription["keys"]["auth"],
        )
    )
    return subscription, Recipient(uuid.uuid4(), uuid.uuid4(), address)


def fault_for(subscription: dict[str, Any], **fields: Any) -> Fault:
    return Fault(subscription_id=subscription_id(subscription), **fields)


@pytest.fixture
async def fast_channel(settings: DispatchSettings) -> AsyncIterator[WebPushChannel]:
    channel = WebPushChannel(
        VapidSigner(settings.vapid, settings.webpush_vapid_subject),
        ttl_s=600,
        concurrency=4,
        timeout_s=0.5,
    )
    yield channel
    await channel.close()


class TestPayload:
    def test_carries_title_body_alert_id_url_and_severity(self) -> None:
        content = alert_content(web="https://tawny.london/alerts/42", severity="Extreme")

        payload = json.loads(_payload(content))

        assert payload == {
            "title": f"[Extreme] {content.headline}",
            "body": content.body,
            "alert_id": str(content.alert_id),
            "url": "https://tawny.london/alerts/42",
            "severity": "Extreme",
        }

    @pytest.mark.parametrize("character", ["a", "é", "🦉", '"'])
    def test_a_long_body_is_shortened_to_fit_one_push(self, character: str) -> None:
        content = alert_content(body=character * 5000)

        encoded = _payload(content)

        assert len(encoded) <= MAX_PAYLOAD_BYTES
        body = json.loads(encoded)["body"]
        assert body.endswith("…") and body.startswith(character * 100)
        # Not cut more than it needed: within a few characters of the limit.
        assert len(encoded) > MAX_PAYLOAD_BYTES - 50


class TestSubscriptionChecks:
    def test_an_address_round_trips(self) -> None:
        subscription = PushSubscription("https://push.example.org/x", "A" * 87, "B" * 22)

        assert parse_subscription_address(subscription_address(subscription)) == subscription

    def test_refuses_keys_that_are_not_a_p256_point_and_16_octets(
        self, webpush_sink: WebPushSink
    ) -> None:
        keys = webpush_sink.subscribe()["keys"]
        check_subscription_keys(keys["p256dh"], keys["auth"])

        with pytest.raises(ValueError, match="P-256"):
            check_subscription_keys("B" + keys["p256dh"][1:-4] + "AAAA", keys["auth"])
        with pytest.raises(ValueError, match="16 octets"):
            check_subscription_keys(keys["p256dh"], keys["auth"][:-4])
        with pytest.raises(ValueError, match="base64url"):
            check_subscription_keys(keys["p256dh"], "!" * 22)


class TestRetryAfter:
    def test_reads_seconds_and_http_dates_and_caps_them(self) -> None:
        in_two_minutes = format_datetime(datetime.now(UTC) + timedelta(minutes=2), usegmt=True)

        assert parse_retry_after("30") == 30
        assert 110 <= (parse_retry_after(in_two_minutes) or 0) <= 120
        assert parse_retry_after("99999999") == MAX_RETRY_AFTER_S
        assert parse_retry_after("soon") is None
        assert parse_retry_after(None) is None


class TestSending:
    async def test_the_sink_decrypts_exactly_the_payload(
        self, webpush_channel: WebPushChannel, webpush_sink: WebPushSink
    ) -> None:
        content = alert_content(urgency="Immediate", body="Avoid the park — police are there.")
        subscription, recipient = subscribed(webpush_sink, webpush_channel)

        results = await webpush_channel.send_alert(content, [recipient])

        assert results[recipient.delivery_id].outcome is Outcome.ACCEPTED
        [received] = webpush_sink.received(subscription)
        assert received.payload.encode() == _payload(content)
        assert received.json_payload()["alert_id"] == str(content.alert_id)
        assert received.urgency == "high"
        assert received.topic == content.alert_id.hex
        assert received.ttl == 86400
        assert received.vapid_subject == "mailto:alerts@tawny.london"
        assert received.vapid_key == webpush_channel.signer.application_server_key

    async def test_sends_many_over_the_pool(
        self, webpush_channel: WebPushChannel, webpush_sink: WebPushSink
    ) -> None:
        pairs = [subscribed(webpush_sink, webpush_channel) for _ in range(40)]

        results = await webpush_channel.send_alert(alert_content(), [r for _s, r in pairs])

        assert {result.outcome for result in results.values()} == {Outcome.ACCEPTED}
        assert all(len(webpush_sink.received(s)) == 1 for s, _r in pairs)

    async def test_a_gone_subscription_is_refused_and_marks_the_address_invalid(
        self, webpush_channel: WebPushChannel, webpush_sink: WebPushSink
    ) -> None:
        gone, gone_recipient = subscribed(webpush_sink, webpush_channel)
        missing, missing_recipient = subscribed(webpush_sink, webpush_channel)
        webpush_sink.expire(gone)
        webpush_sink.add_fault(fault_for(missing, status=404))

        results = await webpush_channel.send_alert(
            alert_content(), [gone_recipient, missing_recipient]
        )

        for recipient in (gone_recipient, missing_recipient):
            assert results[recipient.delivery_id].outcome is Outcome.REJECTED
            assert results[recipient.delivery_id].address_invalid
        assert results[gone_recipient.delivery_id].detail.startswith("410")

    @pytest.mark.parametrize("status", [400, 413])
    async def test_a_bad_request_is_refused_without_disabling(
        self, webpush_channel: WebPushChannel, webpush_sink: WebPushSink, status: int
    ) -> None:
        subscription, recipient = subscribed(webpush_sink, webpush_channel)
        webpush_sink.add_fault(fault_for(subscription, status=status))

        result = (await webpush_channel.send_alert(alert_content(), [recipient]))[
            recipient.delivery_id
        ]

        assert result.outcome is Outcome.REJECTED and not result.address_invalid

    async def test_429_defers_with_its_retry_after_and_pauses_that_push_service(
        self, webpush_channel: WebPushChannel, webpush_sink: WebPushSink
    ) -> None:
        throttled, first = subscribed(webpush_sink, webpush_channel)
        webpush_sink.add_fault(fault_for(throttled, status=429, retry_after_s=30))
        await webpush_channel.send_alert(alert_content(), [first])
        _other, later = subscribed(webpush_sink, webpush_channel)

        throttled_result = (await webpush_channel.send_alert(alert_content(), [first]))[
            first.delivery_id
        ]
        later_result = (await webpush_channel.send_alert(alert_content(), [later]))[
            later.delivery_id
        ]

        assert throttled_result.outcome is Outcome.DEFERRED
        # The first send set the pause; these two were not tried while it lasts.
        assert not throttled_result.attempted and not later_result.attempted
        assert 25 < (later_result.retry_after_s or 0) <= 30
        assert webpush_sink.received(_other) == []

    @pytest.mark.parametrize(
        "fault", [{"status": 500}, {"status": 503}, {"drop_connection": True}, {"delay_s": 2}]
    )
    async def test_server_errors_timeouts_and_lost_connections_defer(
        self, fast_channel: WebPushChannel, webpush_sink: WebPushSink, fault: dict[str, Any]
    ) -> None:
        subscription, recipient = subscribed(webpush_sink, fast_channel)
        webpush_sink.add_fault(fault_for(subscription, **fault))

        result = (await fast_channel.send_alert(alert_content(), [recipient]))[
            recipient.delivery_id
        ]

        assert result.outcome is Outcome.DEFERRED and result.attempted
        assert result.retry_after_s is None

    async def test_a_rate_limit_spaces_the_pushes(
        self, settings: DispatchSettings, webpush_sink: WebPushSink
    ) -> None:
        channel = WebPushChannel(
            VapidSigner(settings.vapid, settings.webpush_vapid_subject),
            ttl_s=60,
            concurrency=4,
            timeout_s=5,
            rate_limit=TokenBucket(rate_per_s=20, burst=1),
        )
        loop = asyncio.get_running_loop()
        try:
            pairs = [subscribed(webpush_sink, channel) for _ in range(5)]
            started = loop.time()
            results = await channel.send_alert(alert_content(), [r for _s, r in pairs])
            elapsed = loop.time() - started
        finally:
            await channel.close()

        assert {r.outcome for r in results.values()} == {Outcome.ACCEPTED}
        # Burst 1 at 20 per second: the fifth push waits for four more tokens.
        assert elapsed >= 0.19

    async def test_reuses_one_vapid_token_per_push_service(
        self, webpush_channel: WebPushChannel, webpush_sink: WebPushSink
    ) -> None:
        signer = webpush_channel.signer

        assert signer.authorization(webpush_sink.origin) == signer.authorization(
            webpush_sink.origin
        )
        assert signer.authorization(webpush_sink.origin) != signer.authorization(
            "https://push.example.org"
        )


# What production requires besides web push, so that only push settings can be refused.
PRODUCTION_BESIDES_PUSH: dict[str, Any] = {
    "environment": Environment.PRODUCTION,
    "public_base_url": "https://tawny.example",
    "unsubscribe_key": "u" * 32,
}


class TestSettings:
    def test_development_generates_a_key(self) -> None:
        settings = DispatchSettings(environment=Environment.DEVELOPMENT)

        assert settings.webpush_vapid_private_key is not None
        assert VapidSigner(settings.vapid, settings.webpush_vapid_subject).application_server_key

    def test_production_refuses_to_run_without_a_key(self) -> None:
        with pytest.raises(ValidationError, match="DISPATCH_WEBPUSH_VAPID_PRIVATE_KEY"):
            DispatchSettings(**PRODUCTION_BESIDES_PUSH)

    def test_production_refuses_http_push_endpoints(self) -> None:
        with pytest.raises(ValidationError, match="INSECURE_ORIGINS"):
            DispatchSettings(
                **PRODUCTION_BESIDES_PUSH,
                webpush_vapid_private_key=SecretStr(new_vapid_private_key()),
                webpush_insecure_origins="http://127.0.0.1:8026",
            )

    def test_refuses_a_malformed_key_subject_or_origin(self) -> None:
        with pytest.raises(ValidationError, match="P-256"):
            DispatchSettings(webpush_vapid_private_key=SecretStr("not-a-key"))
        with pytest.raises(ValidationError, match="mailto"):
            DispatchSettings(webpush_vapid_subject="alerts@tawny.london")
        with pytest.raises(ValidationError, match="http origin"):
            DispatchSettings(webpush_insecure_origins="http://127.0.0.1:8026/push")


# --- through the delivery worker ------------------------------------------------------------


def worker_for(
    sessions: async_sessionmaker[AsyncSession], channel: WebPushChannel
) -> DeliveryWorker:
    return DeliveryWorker(
        sessions=sessions,
        channels={ChannelKind.WEBPUSH: channel},
        settings=driven_worker_settings(),
    )


async def recorded_push_batch(
    sessions: async_sessionmaker[AsyncSession], addresses: list[str]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    members = [uuid.uuid4() for _ in addresses]
    async with session_scope(sessions) as session:
        for member_id, address in zip(members, addresses, strict=True):
            await MemberEndpointRepository(session).record_verified(
                member_id=member_id,
                channel=ChannelKind.WEBPUSH,
                address=address,
                verified_at=VERIFIED_AT,
            )
        batch = recipient_batch(members)
        await DeliveryService(session, channels=(ChannelKind.WEBPUSH,)).record_batch(batch)
    return batch.content.alert_id, members


async def row_of(
    sessions: async_sessionmaker[AsyncSession], alert_id: uuid.UUID, member_id: uuid.UUID
) -> Delivery:
    async with sessions() as session:
        row = await session.scalar(
            select(Delivery).where(Delivery.alert_id == alert_id, Delivery.member_id == member_id)
        )
        assert row is not None
        return row


class TestThroughTheWorker:
    async def test_410_fails_the_delivery_and_disables_the_endpoint(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        webpush_channel: WebPushChannel,
        webpush_sink: WebPushSink,
    ) -> None:
        subscription, recipient = subscribed(webpush_sink, webpush_channel)
        webpush_sink.expire(subscription)
        alert_id, [member_id] = await recorded_push_batch(quiet_sessions, [recipient.address])

        await worker_for(quiet_sessions, webpush_channel).run_once()

        row = await row_of(quiet_sessions, alert_id, member_id)
        assert row.status is DeliveryStatus.FAILED
        assert row.last_error is not None and "410" in row.last_error
        async with quiet_sessions() as session:
            endpoint = await endpoint_of(session, member_id, ChannelKind.WEBPUSH)
        assert endpoint is not None and endpoint.disabled_at is not None

    async def test_429_schedules_the_retry_no_sooner_than_retry_after(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        settings: DispatchSettings,
        webpush_sink: WebPushSink,
    ) -> None:
        # A channel of its own: the pause a 429 sets must not hold up the other tests' pushes.
        channel = WebPushChannel.from_settings(settings)
        subscription, recipient = subscribed(webpush_sink, channel)
        webpush_sink.add_fault(fault_for(subscription, status=429, retry_after_s=120, times=1))
        alert_id, [member_id] = await recorded_push_batch(quiet_sessions, [recipient.address])
        before = utcnow()

        try:
            await worker_for(quiet_sessions, channel).run_once()
        finally:
            await channel.close()

        row = await row_of(quiet_sessions, alert_id, member_id)
        assert row.status is DeliveryStatus.CREATED
        # The worker's own backoff here is 0.02 s at most: the 120 s came from Retry-After.
        assert row.next_attempt_at >= before + timedelta(seconds=119)
        assert row.last_error is not None and "429" in row.last_error

    async def test_a_retry_after_a_server_error_is_delivered_once(
        self,
        quiet_sessions: async_sessionmaker[AsyncSession],
        webpush_channel: WebPushChannel,
        webpush_sink: WebPushSink,
    ) -> None:
        subscription, recipient = subscribed(webpush_sink, webpush_channel)
        webpush_sink.add_fault(fault_for(subscription, status=502, times=1))
        alert_id, [member_id] = await recorded_push_batch(quiet_sessions, [recipient.address])
        worker = worker_for(quiet_sessions, webpush_channel)

        for _ in range(50):
            await worker.run_once()
            row = await row_of(quiet_sessions, alert_id, member_id)
            if row.status is DeliveryStatus.SENT:
                break
        else:
            raise AssertionError("never sent")

        assert row.attempts == 2
        [received] = webpush_sink.received(subscription)
        assert received.json_payload()["alert_id"] == str(alert_id)
