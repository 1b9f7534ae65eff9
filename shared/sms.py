"""What an SMS costs in segments, and text cut to fit (3GPP TS 23.038 and 23.040). Alerts
shows authors the count; dispatch cuts what it sends to the same rules.

A message whose every character is in the GSM 03.38 default alphabet (or its extension table,
which costs two septets: an escape and the character) is sent as GSM-7: 160 septets in one
segment, 153 per segment once it needs several (the rest holds the concatenation header). Any
other character makes the whole message UCS-2: 70 UTF-16 code units in one segment, 67 per
segment when concatenated; a character outside the Basic Multilingual Plane (most emoji) takes
two. A character (an escaped pair, a surrogate pair) is never split across two segments, so
the count here is what the provider bills, not a division.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE: Final = 160
GSM7_PART: Final = 153
UCS2_SINGLE: Final = 70
UCS2_PART: Final = 67
# Concatenated messages beyond this are refused by most providers (GOV.UK Notify's limit is
# 918 GSM characters: six segments).
DEFAULT_MAX_SEGMENTS: Final = 3


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SmsSegments:
    encoding: SmsEncoding
    # Septets for GSM-7, UTF-16 code units for UCS-2.
    units: int
    segments: int


def non_gsm_characters(text: str) -> tuple[str, ...]:
    """The characters that make ``text`` UCS-2, so an author can replace them (a curly quote)."""
    return tuple(sorted({ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION}))


def encoding_of(text: str) -> SmsEncoding:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return SmsEncoding.GSM7
    return SmsEncoding.UCS2


def _unit_cost(ch: str, encoding: SmsEncoding) -> int:
    if encoding is SmsEncoding.GSM7:
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def count_segments(text: str) -> SmsSegments:
    encoding = encoding_of(text)
    costs = [_unit_cost(ch, encoding) for ch in text]
    units = sum(costs)
    single, part = (
        (GSM7_SINGLE, GSM7_PART) if encoding is SmsEncoding.GSM7 else (UCS2_SINGLE, UCS2_PART)
    )
    if units <= single:
        return SmsSegments(encoding, units, 1 if text else 0)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return SmsSegments(encoding, units, segments)


def fit_segments(text: str, max_segments: int = DEFAULT_MAX_SEGMENTS, *, suffix: str = "") -> str:
    """``text + suffix``, with ``text`` cut on a character boundary and ended with an ellipsis
    if the whole needs more than ``max_segments``. The ellipsis is "..." in GSM-7 text ("…" is
    not in its alphabet and would make the message UCS-2, halving what fits)."""
    whole = text + suffix
    if count_segments(whole).segments <= max_segments:
        return whole
    ellipsis = "..." if encoding_of(whole) is SmsEncoding.GSM7 else "…"
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if count_segments(text[:middle].rstrip() + ellipsis + suffix).segments <= max_segments:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ellipsis + suffix


# Below this many characters of text beside it, a link is dropped rather than kept.
MIN_TEXT_BESIDE_LINK: Final = 40


def alert_sms_text(
    *,
    msg_type: str,
    severity: str,
    sender_name: str,
    headline: str,
    instruction: str | None,
    body: str,
    web: str | None,
    max_segments: int = DEFAULT_MAX_SEGMENTS,
) -> str:
    """An alert as one SMS: how serious, who sent it, the headline, what to do (or the text),
    and where to read more; shortened to ``max_segments`` (the link kept whole if there is
    room beside it). Dispatch sends it; alerts shows it to the author before publishing."""
    prefix = "Tawny alert" if msg_type == "Alert" else f"Tawny alert {msg_type}"
    text = f"{prefix} ({severity}, {sender_name}): {headline}\n{instruction or body}"
    if web:
        link = f"\n{web}"
        with_link = fit_segments(text, max_segments, suffix=link)
        if len(with_link) - len(link) >= MIN_TEXT_BESIDE_LINK:
            return with_link
    return fit_segments(text, max_segments)
