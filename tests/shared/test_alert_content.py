"""An alert's text in the language a member reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared.events import AlertContent, AlertTranslation, primary_language

WELSH = AlertTranslation(
    language="cy-GB", headline="Rhybudd", body="Cloiwch eich sied.", instruction="Ffoniwch 101"
)


def content() -> AlertContent:
    return AlertContent(
        alert_id=uuid.uuid4(),
        headline="Warning",
        body="Lock your shed.",
        instruction="Call 101",
        category="burglary",
        severity="Moderate",
        urgency="Expected",
        sender_name="Tawny",
        sent_at=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
        translations=[WELSH],
    )


def test_languages_are_primary_tags() -> None:
    assert primary_language("cy-GB") == "cy"
    assert content().languages() == {"en", "cy"}


def test_a_translation_replaces_the_text_and_nothing_else() -> None:
    original = content()

    welsh = original.in_language("cy")

    assert (welsh.headline, welsh.body, welsh.instruction) == (
        "Rhybudd",
        "Cloiwch eich sied.",
        "Ffoniwch 101",
    )
    assert (welsh.alert_id, welsh.severity, welsh.language) == (
        original.alert_id,
        original.severity,
        "cy-GB",
    )


def test_a_language_the_alert_lacks_leaves_it_as_written() -> None:
    original = content()

    assert original.in_language("pl") is original
    assert original.in_language("en-GB") is original
