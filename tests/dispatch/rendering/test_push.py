"""Push payloads: valid JSON within the limit, whatever the alert says."""

from __future__ import annotations

import json

import pytest

from services.dispatch.rendering.push import (
    ELLIPSIS,
    PUSH_SERVICE_MAX_BYTES,
    WEBPUSH_PAYLOAD_MAX_BYTES,
    push_payload,
)
from tests.dispatch.helpers import alert_content

URL = "https://tawny.london/alerts/1"


class TestPushPayload:
    def test_a_short_alert_is_carried_whole(self) -> None:
        content = alert_content(body="Lock your shed.")

        payload = json.loads(push_payload(content, url=URL))

        assert payload["title"] == content.headline
        assert payload["body"] == "Lock your shed."
        assert payload["url"] == URL
        assert payload["alert_id"] == str(content.alert_id)
        assert payload["tag"] == str(content.alert_id)

    def test_the_limit_leaves_room_for_web_push_encryption(self) -> None:
        assert WEBPUSH_PAYLOAD_MAX_BYTES + 103 == PUSH_SERVICE_MAX_BYTES

    @pytest.mark.parametrize(
        "body",
        [
            "a" * 10_000,
            "é" * 5_000,  # two bytes each
            "🦉" * 3_000,  # four bytes each
            '"\\' * 4_000,  # two bytes each once escaped
            "\x01" * 2_000,  # six bytes each once escaped (\u0001)
            "a" * 3_000 + "🦉" * 500 + '"' * 500,
        ],
    )
    def test_a_long_body_is_cut_to_fit_and_stays_valid_json(self, body: str) -> None:
        content = alert_content(body=body)

        encoded = push_payload(content, url=URL)

        assert len(encoded) <= WEBPUSH_PAYLOAD_MAX_BYTES
        payload = json.loads(encoded.decode("utf-8"))
        assert payload["body"].endswith(ELLIPSIS)
        assert body.startswith(payload["body"].removesuffix(ELLIPSIS))
        # Cut no shorter than it had to be: one more character would not fit.
        assert len(encoded) > WEBPUSH_PAYLOAD_MAX_BYTES - 6 * 2

    def test_a_huge_headline_is_cut_too(self) -> None:
        content = alert_content(headline="H" * 6_000, body="b" * 6_000)

        encoded = push_payload(content, url=URL, max_bytes=PUSH_SERVICE_MAX_BYTES)

        assert len(encoded) <= PUSH_SERVICE_MAX_BYTES
        payload = json.loads(encoded)
        assert payload["body"] == ""
        assert payload["title"].endswith(ELLIPSIS)

    def test_refuses_a_limit_nothing_can_fit(self) -> None:
        with pytest.raises(ValueError, match="cannot fit"):
            push_payload(alert_content(), url=URL, max_bytes=50)
