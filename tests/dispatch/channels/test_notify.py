"""SMS (and the letter request) through the real Notify sink over HTTP; the API key, the JWT,
segment counting and how each reply is classified."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from deploy.sinks.http import HttpFault
from deploy.sinks.notify import NotifySink
from services.dispatch.channels.base import Outcome, Recipient
from services.dispatch.channels.notify import (
    NotifyClient,
    NotifyConfigurationError,
    NotifyKey,
    SmsChannel,
)
from services.dispatch.rendering.sms import alert_sms
from tests.dispatch.helpers import alert_content

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"tawny_test-{SERVICE_ID}-{SECRET}"
SMS_TEMPLATE = "2c0d3b4e-2f0a-4a55-9d52-0d6f3d6a7e01"
LETTER_TEMPLATE = "7d4b8e1a-5c3f-4a2e-8b6d-1e9f0c2a3b44"


def unique_mobile() -> str:
    return f"+4477009{uuid.uuid4().int % 100000:05d}"


@pytest.fixture
async def notify_sink() -> AsyncIterator[NotifySink]:
    async with NotifySink(api_key=API_KEY) as sink:
        yield sink


def client_for(sink: NotifySink, api_key: str = API_KEY) -> NotifyClient:
    return NotifyClient(
        base_url=sink.url,
        key=NotifyKey.parse(api_key),
        sms_template_id=SMS_TEMPLATE,
        letter_template_id=LETTER_TEMPLATE,
        concurrency=4,
        timeout_s=5,
    )


class TestNotifyKey:
    def test_reads_the_service_id_and_secret_from_the_end(self) -> None:
        key = NotifyKey.parse(f"my-key-with-dashes-{SERVICE_ID}-{SECRET}")
        assert (key.service_id, key.secret) == (SERVICE_ID, SECRET)

    @pytest.mark.parametrize("api_key", ["", f"{SERVICE_ID}-{SECRET}", "name-not-uuids"])
    def test_refuses_anything_else(self, api_key: str) -> None:
        with pytest.raises(NotifyConfigurationError):
            NotifyKey.parse(api_key)


class TestSmsChannel:
    async def test_sends_each_recipient_the_alert_referenced_by_the_delivery(
        self, notify_sink: NotifySink
    ) -> None:
        client = client_for(notify_sink)
        channel = SmsChannel(client, max_segments=3, send_budget_s=10)
        content = alert_content()
        to = [Recipient(uuid.uuid4(), uuid.uuid4(), unique_mobile()) for _ in range(3)]
        try:
            results = await channel.send_alert(content, to)
        finally:
            await client.close()

        for recipient in to:
            [sent] = notify_sink.sms_to(recipient.address)
            result = results[recipient.delivery_id]
            assert result.outcome is Outcome.ACCEPTED
            assert result.provider_reference == str(sent.id)
            assert sent.reference == str(recipient.delivery_id)
            assert sent.template_id == SMS_TEMPLATE
            assert sent.personalisation == {"body": alert_sms(content, 3)}

    async def test_classifies_the_providers_refusals(self, notify_sink: NotifySink) -> None:
        invalid = Recipient(uuid.uuid4(), uuid.uuid4(), "+33612345678")
        throttled = Recipient(uuid.uuid4(), uuid.uuid4(), unique_mobile())
        broken = Recipient(uuid.uuid4(), uuid.uuid4(), unique_mobile())
        dropped = Recipient(uuid.uuid4(), uuid.uuid4(), unique_mobile())
        notify_sink.add_fault(HttpFault(target=throttled.address, status=429, retry_after_s=3))
        notify_sink.add_fault(HttpFault(target=broken.address, status=500))
        notify_sink.add_fault(HttpFault(target=dropped.address, drop_connection=True))
        client = client_for(notify_sink)
        try:
            results = await SmsChannel(client, max_segments=3, send_budget_s=10).send_alert(
                alert_content(), [invalid, throttled, broken, dropped]
            )
        finally:
            await client.close()

        assert results[invalid.delivery_id].outcome is Outcome.REJECTED
        assert results[invalid.delivery_id].address_invalid
        assert results[throttled.delivery_id].outcome is Outcome.DEFERRED
        assert results[throttled.delivery_id].retry_after_s == 3
        assert results[broken.delivery_id].outcome is Outcome.DEFERRED
        assert results[dropped.delivery_id].outcome is Outcome.DEFERRED

    async def test_a_wrong_api_key_is_a_permanent_refusal(self, notify_sink: NotifySink) -> None:
        client = client_for(notify_sink, f"tawny_test-{SERVICE_ID}-{uuid.uuid4()}")
        recipient = Recipient(uuid.uuid4(), uuid.uuid4(), unique_mobile())
        try:
            results = await SmsChannel(client, max_segments=3, send_budget_s=10).send_alert(
                alert_content(), [recipient]
            )
        finally:
            await client.close()

        assert results[recipient.delivery_id].outcome is Outcome.REJECTED
        assert "AuthError" in results[recipient.delivery_id].detail
        assert not results[recipient.delivery_id].address_invalid


class TestLetters:
    async def test_address_lines_become_personalisation(self, notify_sink: NotifySink) -> None:
        client = client_for(notify_sink)
        reference = str(uuid.uuid4())
        try:
            result = await client.send_letter(
                address_lines=["Ada Lovelace", "1 Acacia Avenue", "Hackney", "E8 1AA"],
                personalisation={"code": "ABCD1234"},
                reference=reference,
            )
        finally:
            await client.close()

        [letter] = notify_sink.with_reference(reference)
        assert result.outcome is Outcome.ACCEPTED
        assert result.provider_reference == str(letter.id)
        assert letter.type == "letter"
        assert letter.template_id == LETTER_TEMPLATE
        assert letter.personalisation == {
            "address_line_1": "Ada Lovelace",
            "address_line_2": "1 Acacia Avenue",
            "address_line_3": "Hackney",
            "address_line_4": "E8 1AA",
            "code": "ABCD1234",
        }

    async def test_too_few_address_lines_are_refused_without_a_request(
        self, notify_sink: NotifySink
    ) -> None:
        client = client_for(notify_sink)
        try:
            result = await client.send_letter(
                address_lines=["Ada", "E8 1AA"], personalisation={}, reference="r"
            )
        finally:
            await client.close()
        assert result.outcome is Outcome.REJECTED
        assert notify_sink.with_reference("r") == []
