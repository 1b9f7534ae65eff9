"""An alert as one SMS text within the segments allowed."""

from __future__ import annotations

import pytest

from services.dispatch.rendering.sms import alert_sms
from shared.sms import SmsEncoding, count_segments
from tests.dispatch.helpers import alert_content


class TestAlertSms:
    @pytest.mark.parametrize("max_segments", [1, 2, 3])
    def test_an_alert_fits_the_segments_allowed_with_its_link(self, max_segments: int) -> None:
        content = alert_content(
            body="Sheds broken into overnight. " * 50, web="https://tawny.london/a/1"
        )

        text = alert_sms(content, max_segments)

        assert count_segments(text).segments <= max_segments
        assert count_segments(text).encoding is SmsEncoding.GSM7
        assert text.startswith("Tawny alert (Severe, Hackney Police):")
        assert text.endswith("...\nhttps://tawny.london/a/1")

    def test_a_short_alert_is_whole(self) -> None:
        content = alert_content(headline="Shed burglaries", instruction="Lock your shed.")

        assert alert_sms(content) == (
            "Tawny alert (Severe, Hackney Police): Shed burglaries\nLock your shed."
        )

    def test_an_update_says_so(self) -> None:
        content = alert_content(msg_type="Update", headline="Arrest made")

        assert alert_sms(content).startswith("Tawny alert Update (Severe, Hackney Police):")
