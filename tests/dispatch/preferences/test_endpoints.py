"""GET/PUT /preferences/me, and the one-click unsubscribe link from an alert email that really
went through the SMTP sink."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from deploy.sinks.smtp import SmtpSink
from services.dispatch.channels.base import Recipient
from services.dispatch.channels.email import EmailChannel
from tests.dispatch.helpers import alert_content, unique_email
from tests.support.tokens import auth_header

DEFAULTS: dict[str, Any] = {
    "channels": {
        "Extreme": ["email", "fcm", "sms", "webpush"],
        "Severe": ["email", "fcm", "sms", "webpush"],
        "Moderate": ["email", "fcm", "webpush"],
        "Minor": ["email", "fcm", "webpush"],
        "Unknown": ["email", "fcm", "webpush"],
    },
    "quiet_hours": None,
    "digest_hour": None,
    "digest_severities": ["Minor", "Unknown"],
    "language": "en",
    "unsubscribed_all": False,
    "unsubscribed_categories": [],
}
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


async def preferences_of(client: httpx.AsyncClient, member_id: uuid.UUID) -> dict[str, Any]:
    response = await client.get("/preferences/me", headers=auth_header(member_id=member_id))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


class TestMyPreferences:
    async def test_a_new_member_has_the_defaults(self, client: httpx.AsyncClient) -> None:
        assert await preferences_of(client, uuid.uuid4()) == DEFAULTS

    async def test_put_replaces_them_and_get_reads_them_back(
        self, client: httpx.AsyncClient
    ) -> None:
        member_id = uuid.uuid4()
        wanted = {
            "channels": {"Minor": ["email"], "Severe": ["sms", "email"]},
            "quiet_hours": {"start": "22:30", "end": "07:00"},
            "digest_hour": 8,
            "language": "cy",
            "unsubscribed_categories": ["antisocial_behaviour"],
        }

        response = await client.put(
            "/preferences/me", json=wanted, headers=auth_header(member_id=member_id)
        )

        assert response.status_code == 200
        expected = {
            **DEFAULTS,
            "channels": {**DEFAULTS["channels"], "Minor": ["email"], "Severe": ["email", "sms"]},
            "quiet_hours": {"start": "22:30:00", "end": "07:00:00"},
            "digest_hour": 8,
            "language": "cy",
            "unsubscribed_categories": ["antisocial_behaviour"],
        }
        assert response.json() == expected
        assert await preferences_of(client, member_id) == expected

    async def test_refuses_what_it_cannot_honour(self, client: httpx.AsyncClient) -> None:
        headers = auth_header(member_id=uuid.uuid4())
        for invalid in (
            {"channels": {"Severe": ["letter"]}},
            {"quiet_hours": {"start": "22:00", "end": "22:00"}},
            {"digest_hour": 24},
            {"language": "xx"},
            {"unsubscribed_categories": ["<script>"]},
            {"surprise": True},
        ):
            response = await client.put("/preferences/me", json=invalid, headers=headers)

            assert response.status_code == 422, invalid
            assert response.headers["content-type"] == "application/problem+json"

    async def test_needs_a_signed_in_caller(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/preferences/me")).status_code == 401
        assert (await client.put("/preferences/me", json={})).status_code == 401


def unsubscribe_link(sink: SmtpSink, address: str) -> str:
    [message] = sink.messages_to(address)
    header = message.headers["List-Unsubscribe"]
    assert header.startswith("<http://127.0.0.1:8000/api/dispatch/unsubscribe?token=")
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The app under test is dispatch itself, without the gateway's /api/dispatch prefix.
    return header.strip("<>").removeprefix("http://127.0.0.1:8000/api/dispatch")


class TestOneClickUnsubscribe:
    async def test_the_emails_one_click_link_stops_every_alert_without_sign_in(
        self, client: httpx.AsyncClient, sink: SmtpSink, email_channel: EmailChannel
    ) -> None:
        member_id, address = uuid.uuid4(), unique_email()
        await email_channel.send_alert(
            alert_content(), [Recipient(uuid.uuid4(), member_id, address)]
        )
        link = unsubscribe_link(sink, address)

        response = await client.post(link, data=ONE_CLICK)

        assert response.status_code == 200
        assert "You have stopped all Tawny alerts" in response.text
        assert (await preferences_of(client, member_id))["unsubscribed_all"] is True
        # Twice is harmless.
        assert (await client.post(link, data=ONE_CLICK)).status_code == 200

    async def test_the_footer_link_stops_one_category_after_confirming(
        self, client: httpx.AsyncClient, sink: SmtpSink, email_channel: EmailChannel
    ) -> None:
        member_id, address = uuid.uuid4(), unique_email()
        await email_channel.send_alert(
            alert_content(category="theft_from_motor_vehicle"),
            [Recipient(uuid.uuid4(), member_id, address)],
        )
        [message] = sink.messages_to(address)
        line = next(
            x for x in message.text.splitlines() if x.startswith("Stop theft from motor vehicle")
        )
        link = line.partition(": ")[2].removeprefix("http://127.0.0.1:8000/api/dispatch")

        page = await client.get(link)

        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "Stop theft from motor vehicle alerts?" in page.text
        assert '<form method="post" action="?token=' in page.text
        # Opening the link (as mail scanners do) changed nothing.
        assert (await preferences_of(client, member_id))["unsubscribed_categories"] == []

        response = await client.post(link, data=ONE_CLICK)

        assert response.status_code == 200
        preferences = await preferences_of(client, member_id)
        assert preferences["unsubscribed_categories"] == ["theft_from_motor_vehicle"]
        assert preferences["unsubscribed_all"] is False

    async def test_refuses_a_forged_token(self, client: httpx.AsyncClient) -> None:
        forged = f"{uuid.uuid4()}.YWxs.c2lnbmF0dXJl"

        for response in (
            await client.get("/unsubscribe", params={"token": forged}),
            await client.post("/unsubscribe", params={"token": forged}, data=ONE_CLICK),
        ):
            assert response.status_code == 400
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("/invalid-unsubscribe-token")

    async def test_the_post_must_be_one_click(
        self, client: httpx.AsyncClient, sink: SmtpSink, email_channel: EmailChannel
    ) -> None:
        member_id, address = uuid.uuid4(), unique_email()
        await email_channel.send_alert(
            alert_content(), [Recipient(uuid.uuid4(), member_id, address)]
        )
        link = unsubscribe_link(sink, address)

        wrong = await client.post(link, data={"List-Unsubscribe": "Maybe"})
        missing = await client.post(link)

        assert wrong.status_code == 400
        assert missing.status_code == 422
        assert (await preferences_of(client, member_id))["unsubscribed_all"] is False
