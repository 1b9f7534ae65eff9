"""Stamped alert emails are byte for byte the messages the whole-message builder makes.

The reference is :meth:`EmailChannel.alert_message` flattened by aiosmtplib for a server with
8BITMIME, given the same Date and multipart boundary (each whole build picks a random boundary
and the time of building)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from aiosmtplib.email import flatten_message

from deploy.sinks.smtp import SmtpSink
from services.dispatch.channels.base import Outcome, Recipient
from services.dispatch.channels.email import EmailChannel, SmtpServer
from services.dispatch.channels.stamping import message_date
from services.dispatch.preferences.tokens import UnsubscribeLinks, UnsubscribeTokens
from shared.events import AlertContent
from tests.dispatch.helpers import alert_content, unique_email

BASE_URL = "https://tawny.example.london"


def email_channel(port: int = 25, *, base_url: str = BASE_URL) -> EmailChannel:
    return EmailChannel(
        SmtpServer(host="127.0.0.1", port=port, starttls=False, timeout_s=5),
        email_from="Tawny alerts <alerts@tawny.london>",
        concurrency=4,
        unsubscribe=UnsubscribeLinks(base_url, UnsubscribeTokens(b"k" * 32)),
    )


def reference(
    channel: EmailChannel, content: AlertContent, recipient: Recipient, stamped: bytes, date: str
) -> bytes:
    """The recipient's message built whole, with the stamped one's date and boundary."""
    message = channel.alert_message(content, recipient)
    message.replace_header("Date", date)
    boundary = stamped.split(b'boundary="', 1)[1].split(b'"', 1)[0].decode()
    message.set_boundary(boundary)
    return flatten_message(message, utf8=False, cte_type="8bit")


def stamped_and_reference(
    channel: EmailChannel, content: AlertContent, recipient: Recipient
) -> tuple[bytes, bytes]:
    template = channel.alert_template(content)
    assert template is not None
    date = message_date()
    parts = channel.personal_parts(content, recipient, date=date)
    assert parts is not None and template.accepts(parts)
    stamped = template.stamp(parts)
    return stamped, reference(channel, content, recipient, stamped, date)


LONG_LINE = "A long paragraph that runs on " * 12
CONTENTS = {
    "short ASCII": {},
    "non-ASCII (8bit or quoted-printable)": {
        "headline": "Vol à l'étalage — Łódź Café (ß, ü, €)",
        "body": "Zażółć gęślą jaźń.\n\nCafé crème — 10 €.",
    },
    "mostly Cyrillic (base64)": {
        "headline": "Крадіжки в парку",
        "body": "Будьте обережні: крадіжки в парку. " * 20,
    },
    "long lines": {"body": f"{LONG_LINE}\n\n{LONG_LINE}"},
    "markup and equals signs": {
        "headline": "<b>A = B</b> & \"quotes\" 'too'",
        "body": "x=3D is not an escape\n\n<script>alert(1)</script> a=b&c=d",
    },
    "many paragraphs": {"body": "\n\n".join(f"Paragraph {n}." for n in range(30))},
    "severe, with an expiry": {
        "severity": "Extreme",
        "category": "violence_with_injury",
        "urgency": "Immediate",
    },
}


class TestStampedAlertEmail:
    @pytest.mark.parametrize("overrides", CONTENTS.values(), ids=list(CONTENTS))
    def test_equals_the_whole_message_byte_for_byte(self, overrides: dict[str, object]) -> None:
        channel = email_channel()
        content = alert_content(**overrides)
        if overrides.get("severity") == "Extreme":
            content = content.model_copy(update={"expires": content.sent_at + timedelta(hours=6)})
        for address in (unique_email(), "a@b.co", "first.last+alerts@mail.example.org.uk"):
            recipient = Recipient(uuid.uuid4(), uuid.uuid4(), address)

            stamped, whole = stamped_and_reference(channel, content, recipient)

            assert stamped == whole

    def test_each_recipient_gets_their_own_address_id_and_links(self) -> None:
        channel = email_channel()
        content = alert_content()
        first, second = (Recipient(uuid.uuid4(), uuid.uuid4(), unique_email()) for _ in "12")

        one, _ = stamped_and_reference(channel, content, first)
        two, _ = stamped_and_reference(channel, content, second)

        assert f"To: {first.address}".encode() in one and first.address.encode() not in two
        assert str(first.delivery_id).encode() in one
        assert str(second.delivery_id).encode() in two
        assert str(first.member_id).encode() not in two

    def test_addresses_it_cannot_stamp_exactly_are_refused(self) -> None:
        channel = email_channel()
        content = alert_content()
        template = channel.alert_template(content)
        assert template is not None
        for address in ("zoë@example.org", f"{'a' * 70}@example.org", "a b@example.org"):
            recipient = Recipient(uuid.uuid4(), uuid.uuid4(), address)
            parts = channel.personal_parts(content, recipient, date=message_date())

            assert parts is not None and not template.accepts(parts)

    def test_a_link_html_would_escape_is_built_whole(self) -> None:
        channel = email_channel(base_url="https://tawny.example.london/a&b")
        content = alert_content()
        template = channel.alert_template(content)
        assert template is not None
        recipient = Recipient(uuid.uuid4(), uuid.uuid4(), unique_email())
        parts = channel.personal_parts(content, recipient, date=message_date())

        assert parts is not None and not template.accepts(parts)

    async def test_stamped_messages_reach_the_sink_as_sent(self, sink: SmtpSink) -> None:
        channel = email_channel(sink.smtp_port)
        content = alert_content(headline="Vol à l'étalage — Łódź")
        recipients = [Recipient(uuid.uuid4(), uuid.uuid4(), unique_email()) for _ in range(5)]
        try:
            results = await channel.send_alert(content, recipients)
        finally:
            await channel.close()

        assert {r.outcome for r in results.values()} == {Outcome.ACCEPTED}
        for recipient in recipients:
            [received] = sink.messages_to(recipient.address)
            assert received.subject == channel.alert_message(content, recipient)["Subject"]
            assert str(recipient.delivery_id) in received.headers["Message-ID"]
            assert "Łódź" in received.text
