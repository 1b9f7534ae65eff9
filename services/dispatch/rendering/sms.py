"""An alert as one SMS text, within the segments allowed (what a segment costs:
:mod:`shared.sms`)."""

from __future__ import annotations

from typing import Final

from shared.events import AlertContent
from shared.sms import DEFAULT_MAX_SEGMENTS, fit_segments

# Below this many characters of text beside it, a link is dropped rather than kept.
MIN_TEXT_BESIDE_LINK: Final = 40


def alert_sms(content: AlertContent, max_segments: int = DEFAULT_MAX_SEGMENTS) -> str:
    """How serious, who sent it, the headline, what to do, and where to read more; shortened to
    ``max_segments`` (the link kept whole if there is room beside it)."""
    prefix = "Tawny alert" if content.msg_type == "Alert" else f"Tawny alert {content.msg_type}"
    text = (
        f"{prefix} ({content.severity}, {content.sender_name}): {content.headline}\n"
        f"{content.instruction or content.body}"
    )
    if content.web:
        link = f"\n{content.web}"
        with_link = fit_segments(text, max_segments, suffix=link)
        if len(with_link) - len(link) >= MIN_TEXT_BESIDE_LINK:
            return with_link
    return fit_segments(text, max_segments)
