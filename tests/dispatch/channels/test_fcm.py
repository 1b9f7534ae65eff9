"""The FCM channel against the real FCM sink over HTTP: OAuth2 service-account tokens,
messages:send, and how each reply is classified."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from deploy.sinks.fcm import FcmSink, new_service_account
from deploy.sinks.http import HttpFault
from services.dispatch.channels.base import Outcome, Recipient, parse_retry_after
from services.dispatch.channels.fcm import (
    MAX_PAYLOAD_BYTES,
    AccessTokens,
    FcmChannel,
    ServiceAccount,
    _payload,
    classify,
)
from services.dispatch.config import DispatchSettings
from tests.dispatch.helpers import alert_content

PROJECT = "tawny-test"


@pytest.fixture
def service_account(tmp_path: Path) -> dict[str, str]:
    return new_service_account(tmp_path / "key.json", project_id=PROJECT)


@pytest.fixture
async def fcm_sink(service_account: dict[str, str]) -> AsyncIterator[FcmSink]:
    async with FcmSink(service_account=service_account, project_id=PROJECT) as sink:
        yield sink


def channel_for(sink: FcmSink, key: dict[str, str], *, budget_s: float = 10.0) -> FcmChannel:
    return FcmChannel(
        base_url=sink.url,
        project_id=PROJECT,
        tokens=AccessTokens(ServiceAccount.from_json(json.dumps(key)), token_url=sink.token_url),
        concurrency=4,
        timeout_s=5.0,
        send_budget_s=budget_s,
    )


def recipients(count: int) -> list[Recipient]:
    return [
        Recipient(uuid.uuid4(), uuid.uuid4(), f"device-{uuid.uuid4().hex}:APA91b{'x' * 20}")
        for _ in range(count)
    ]


class TestFcmChannel:
    async def test_sends_each_recipient_one_notification_with_one_access_token(
        self, fcm_sink: FcmSink, service_account: dict[str, str]
    ) -> None:
        channel = channel_for(fcm_sink, service_account)
        content = alert_content(severity="Extreme", web="https://tawny.london/alerts/1")
        to = recipients(5)
        try:
            results = await channel.send_alert(content, to)
        finally:
            await channel.close()

        assert {r.outcome for r in results.values()} == {Outcome.ACCEPTED}
        assert fcm_sink.tokens_issued == 1
        for recipient in to:
            [received] = fcm_sink.messages_to(recipient.address)
            assert results[recipient.delivery_id].provider_reference == received.name
            notification = received.message["notification"]
            assert notification["title"] == content.headline
            assert received.message["data"]["alert_id"] == str(content.alert_id)
            assert received.message["data"]["web"] == "https://tawny.london/alerts/1"
            assert received.message["android"]["priority"] == "high"

    async def test_an_unregistered_token_is_refused_and_marks_the_address_invalid(
        self, fcm_sink: FcmSink, service_account: dict[str, str]
    ) -> None:
        gone, kept = recipients(2)
        fcm_sink.unregister(gone.address)
        channel = channel_for(fcm_sink, service_account)
        try:
            results = await channel.send_alert(alert_content(), [gone, kept])
        finally:
            await channel.close()

        assert results[gone.delivery_id].outcome is Outcome.REJECTED
        assert results[gone.delivery_id].address_invalid
        assert "UNREGISTERED" in results[gone.delivery_id].detail
        assert results[kept.delivery_id].outcome is Outcome.ACCEPTED

    @pytest.mark.parametrize("status", [429, 503])
    async def test_throttling_is_deferred_with_the_retry_after(
        self, fcm_sink: FcmSink, service_account: dict[str, str], status: int
    ) -> None:
        [recipient] = recipients(1)
        fcm_sink.add_fault(HttpFault(target=recipient.address, status=status, retry_after_s=7))
        channel = channel_for(fcm_sink, service_account)
        try:
            results = await channel.send_alert(alert_content(), [recipient])
        finally:
            await channel.close()

        result = results[recipient.delivery_id]
        assert result.outcome is Outcome.DEFERRED
        assert result.retry_after_s == 7
        assert not result.address_invalid

    async def test_a_server_error_or_a_dropped_connection_is_deferred(
        self, fcm_sink: FcmSink, service_account: dict[str, str]
    ) -> None:
        failing, dropped = recipients(2)
        fcm_sink.add_fault(HttpFault(target=failing.address, status=500))
        fcm_sink.add_fault(HttpFault(target=dropped.address, drop_connection=True))
        channel = channel_for(fcm_sink, service_account)
        try:
            results = await channel.send_alert(alert_content(), [failing, dropped])
        finally:
            await channel.close()

        assert results[failing.delivery_id].outcome is Outcome.DEFERRED
        assert results[failing.delivery_id].retry_after_s is None
        assert results[dropped.delivery_id].outcome is Outcome.DEFERRED
        assert fcm_sink.messages_to(failing.address) == []

    async def test_a_revoked_access_token_is_renewed_and_the_message_sent(
        self, fcm_sink: FcmSink, service_account: dict[str, str]
    ) -> None:
        channel = channel_for(fcm_sink, service_account)
        first, second = recipients(2)
        try:
            await channel.send_alert(alert_content(), [first])
            fcm_sink.revoke_access_tokens()
            results = await channel.send_alert(alert_content(), [second])
        finally:
            await channel.close()

        assert results[second.delivery_id].outcome is Outcome.ACCEPTED
        assert fcm_sink.tokens_issued == 2

    async def test_a_key_the_token_endpoint_does_not_know_defers_every_message(
        self, fcm_sink: FcmSink, tmp_path: Path
    ) -> None:
        stranger = new_service_account(tmp_path / "other.json", project_id=PROJECT)
        stranger["client_email"] = fcm_sink.client_email  # same name, another key
        channel = channel_for(fcm_sink, stranger)
        [recipient] = recipients(1)
        try:
            results = await channel.send_alert(alert_content(), [recipient])
        finally:
            await channel.close()

        assert results[recipient.delivery_id].outcome is Outcome.DEFERRED
        assert "invalid_grant" in results[recipient.delivery_id].detail
        assert fcm_sink.tokens_issued == 0

    async def test_a_slow_provider_is_cut_off_at_the_timeout(
        self, fcm_sink: FcmSink, service_account: dict[str, str]
    ) -> None:
        [recipient] = recipients(1)
        fcm_sink.add_fault(HttpFault(target=recipient.address, delay_s=3))
        channel = FcmChannel(
            base_url=fcm_sink.url,
            project_id=PROJECT,
            tokens=AccessTokens(
                ServiceAccount.from_json(json.dumps(service_account)),
                token_url=fcm_sink.token_url,
            ),
            concurrency=2,
            timeout_s=0.5,
            send_budget_s=10,
        )
        try:
            results = await channel.send_alert(alert_content(), [recipient])
        finally:
            await channel.close()

        assert results[recipient.delivery_id].outcome is Outcome.DEFERRED
        assert "0.5s" in results[recipient.delivery_id].detail

    async def test_a_huge_alert_is_shortened_to_fit_and_accepted(
        self, fcm_sink: FcmSink, service_account: dict[str, str]
    ) -> None:
        content = alert_content(body="Über die Straße — " * 400, instruction=None)
        [recipient] = recipients(1)
        channel = channel_for(fcm_sink, service_account)
        try:
            results = await channel.send_alert(content, [recipient])
        finally:
            await channel.close()

        assert results[recipient.delivery_id].outcome is Outcome.ACCEPTED
        [received] = fcm_sink.messages_to(recipient.address)
        assert received.payload_bytes <= MAX_PAYLOAD_BYTES
        assert received.message["notification"]["body"].endswith("…")


class TestPayload:
    def test_a_short_alert_is_whole_and_an_instruction_is_preferred_to_the_body(self) -> None:
        content = alert_content(instruction="Lock your shed.", urgency="Expected")
        payload = _payload(content)
        assert payload["notification"] == {"title": content.headline, "body": "Lock your shed."}
        assert payload["android"]["priority"] == "normal"
        assert payload["apns"]["headers"]["apns-priority"] == "5"

    def test_any_alert_fits_in_four_kilobytes(self) -> None:
        content = alert_content(headline="🦉" * 200, body="🦉" * 5000)
        size = len(json.dumps(_payload(content), ensure_ascii=False).encode())
        assert MAX_PAYLOAD_BYTES - 8 <= size <= MAX_PAYLOAD_BYTES


class TestClassify:
    def test_an_invalid_token_argument_marks_the_address_invalid(self) -> None:
        body = {
            "error": {
                "code": 400,
                "message": "The registration token is not a valid FCM registration token",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": "message.token", "description": "bad"}],
                    }
                ],
            }
        }
        result = classify(httpx.Response(400, json=body))
        assert result.outcome is Outcome.REJECTED
        assert result.address_invalid

    def test_another_invalid_argument_refuses_the_message_only(self) -> None:
        body = {"error": {"code": 400, "message": "bad ttl", "status": "INVALID_ARGUMENT"}}
        result = classify(httpx.Response(400, json=body))
        assert result.outcome is Outcome.REJECTED
        assert not result.address_invalid

    def test_a_retry_after_date_becomes_seconds(self) -> None:
        assert parse_retry_after("120") == 120
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
        assert parse_retry_after("soon") is None


class TestFromSettings:
    def test_no_channel_without_a_project_and_a_key(self) -> None:
        assert FcmChannel.from_settings(DispatchSettings()) is None

    def test_reads_the_key_from_its_file(self, tmp_path: Path) -> None:
        new_service_account(tmp_path / "key.json")
        settings = DispatchSettings(
            fcm_project_id=PROJECT, fcm_service_account_file=tmp_path / "key.json"
        )
        assert isinstance(FcmChannel.from_settings(settings), FcmChannel)
