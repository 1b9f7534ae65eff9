"""An alert as one SMS text, within the segments allowed (the text and what a segment costs:
:mod:`shared.sms`, which alerts' previews use too)."""

from __future__ import annotations

from shared.events import AlertContent
from shared.sms import DEFAULT_MAX_SEGMENTS, alert_sms_text


def alert_sms(content: AlertContent, max_segments: int = DEFAULT_MAX_SEGMENTS) -> str:
    return alert_sms_text(
        msg_type=content.msg_type,
        severity=content.severity,
        sender_name=content.sender_name,
        headline=content.headline,
        instruction=content.instruction,
        body=content.body,
        web=content.web,
        max_segments=max_segments,
    )
