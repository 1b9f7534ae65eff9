"""The email templates: what they say, what they escape, and that the HTML is accessible."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from html.parser import HTMLParser

from services.dispatch.rendering.email import (
    UnsubscribeUrls,
    alert_email,
    alert_subject,
    digest_email,
    notice_email,
    password_reset_email,
    verification_email,
)
from shared.events import MemberNoticeRequested, PasswordResetRequested
from tests.dispatch.helpers import alert_content, verification_requested

LINKS = UnsubscribeUrls(
    category="https://tawny.london/api/dispatch/unsubscribe?token=c&x=1",
    everything="https://tawny.london/api/dispatch/unsubscribe?token=a",
)


def _luminance(hex_colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(foreground: str, background: str = "#ffffff") -> float:
    """WCAG 2.x contrast ratio."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


class _Outline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.html_lang: str | None = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "html":
            self.html_lang = dict(attrs).get("lang")
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def outline(html: str) -> _Outline:
    parser = _Outline()
    parser.feed(html)
    return parser


class TestAlertEmail:
    def test_subject_carries_severity_category_and_the_headline_verbatim(self) -> None:
        headline = "Two men seen trying car doors — Mare St & Well St (E8)"
        content = alert_content(
            headline=headline, severity="Severe", category="theft_from_motor_vehicle"
        )

        assert alert_subject(content) == f"[Severe] Theft from motor vehicle: {headline}"
        assert alert_email(content).subject == alert_subject(content)

    def test_subject_turns_control_characters_into_spaces(self) -> None:
        content = alert_content(headline="Bike theft\r\nBcc: everyone@example.org")

        subject = alert_email(content).subject

        assert "\r" not in subject and "\n" not in subject
        assert subject.endswith(": Bike theft Bcc: everyone@example.org")

    def test_text_has_the_body_severity_sender_london_time_and_footer(self) -> None:
        content = alert_content(
            body="Lock your shed.\n\nCall 101.",
            sender_name="Hackney Police",
            sent_at=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
        )

        text = alert_email(content).text

        assert text.startswith(f"{content.headline}\n\nLock your shed.\n\nCall 101.\n")
        assert "Severity: Severe    Urgency: Expected" in text
        assert "From: Hackney Police" in text
        # 12:00 UTC on 23 November is 12:00 GMT in London.
        assert "Sent: Monday 23 November 2026, 12:00 GMT" in text
        assert "\n-- \nYou are receiving this because" in text

    def test_times_are_in_british_summer_time_in_summer(self) -> None:
        content = alert_content(sent_at=datetime(2026, 7, 1, 11, 0, tzinfo=UTC))

        assert "Sent: Wednesday 1 July 2026, 12:00 BST" in alert_email(content).text

    def test_the_text_part_names_the_unsubscribe_links(self) -> None:
        text = alert_email(alert_content(category="burglary"), unsubscribe=LINKS).text

        assert f"Stop burglary alerts: {LINKS.category}\n" in text
        assert f"Stop all Tawny alerts: {LINKS.everything}\n" in text

    def test_html_escapes_what_officers_wrote(self) -> None:
        content = alert_content(
            headline="<script>alert(1)</script>",
            body="Fish & chips\nshop",
            instruction='<img src=x onerror="steal()">',
        )

        rendered = alert_email(content, unsubscribe=LINKS).html

        assert "<script>" not in rendered and "<img" not in rendered
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
        assert "<p>Fish &amp; chips<br>shop</p>" in rendered
        # The link's & is escaped in the attribute, as HTML requires.
        assert 'href="https://tawny.london/api/dispatch/unsubscribe?token=c&amp;x=1"' in rendered

    def test_html_is_accessible(self) -> None:
        content = alert_content(instruction="Keep doors locked.")

        rendered = alert_email(content, unsubscribe=LINKS).html
        found = outline(rendered)

        assert found.html_lang == "en"
        assert found.title == alert_subject(content)
        # One h1 (the headline), then h2 sections; no skipped levels.
        headings = [tag for tag in found.tags if re.fullmatch(r"h\d", tag)]
        assert headings[0] == "h1" and headings.count("h1") == 1
        assert set(headings) == {"h1", "h2"}
        assert "main" in found.tags and "footer" in found.tags
        # Every text colour reads at 4.5:1 or better on the white background.
        colours = re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6})", rendered)
        assert colours
        assert all(contrast(colour) >= 4.5 for colour in colours), colours
        # Links say where they go.
        assert ">Stop all Tawny alerts</a>" in rendered
        assert "click here" not in rendered.lower()


class TestDigestEmail:
    def test_lists_every_alert_oldest_first_in_one_email(self) -> None:
        later = alert_content(
            headline="Later", sent_at=datetime(2026, 11, 23, 15, 0, tzinfo=UTC), severity="Minor"
        )
        earlier = alert_content(
            headline="Earlier", sent_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC), severity="Minor"
        )

        rendered = digest_email([later, earlier], unsubscribe_all_url=LINKS.everything)

        assert rendered.subject == "Your Tawny daily digest: 2 alerts"
        assert rendered.text.index("1. Earlier") < rendered.text.index("2. Later")
        assert f"Stop all Tawny alerts: {LINKS.everything}" in rendered.text
        found = outline(rendered.html)
        assert found.html_lang == "en"
        assert [t for t in found.tags if t in ("h1", "h2")] == ["h1", "h2", "h2"]

    def test_says_alert_for_one(self) -> None:
        rendered = digest_email([alert_content()], unsubscribe_all_url=LINKS.everything)

        assert rendered.subject == "Your Tawny daily digest: 1 alert"


class TestAccountEmails:
    def test_verification_carries_the_link_in_both_parts(self) -> None:
        requested = verification_requested("jo@example.org")

        rendered = verification_email(requested)

        assert rendered.subject == "Confirm your email address for Tawny"
        assert "Hello Tawny Owl 42," in rendered.text
        assert requested.verify_url in rendered.text
        assert f'href="{requested.verify_url}"' in rendered.html

    def test_password_reset_escapes_the_pseudonym(self) -> None:
        requested = PasswordResetRequested(
            member_id=uuid.uuid4(),
            email="jo@example.org",
            pseudonym="<b>Owl</b>",
            reset_url="https://tawny.london/reset#t",
        )

        rendered = password_reset_email(requested)

        assert rendered.subject == "Reset your Tawny password"
        assert "Hello <b>Owl</b>," in rendered.text
        assert "Hello &lt;b&gt;Owl&lt;/b&gt;," in rendered.html

    def test_a_notice_is_its_subject_and_body(self) -> None:
        notice = MemberNoticeRequested(
            member_id=uuid.uuid4(),
            notice_id=uuid.uuid4(),
            kind="coordinator_approved",
            subject="You are now a coordinator\nfor Hackney",
            body="Your request was approved.\n\nThank you & welcome.",
        )

        rendered = notice_email(notice)

        assert rendered.subject == "You are now a coordinator for Hackney"
        assert rendered.text.startswith("Your request was approved.\n\nThank you & welcome.\n")
        assert "<p>Thank you &amp; welcome.</p>" in rendered.html
        assert outline(rendered.html).html_lang == "en"
