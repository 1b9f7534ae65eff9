"""How an alert will look on each channel, so an author sees an SMS split or a push cut short
before publishing rather than after.

SMS: text that fits the GSM 03.38 alphabet travels 7 bits a character (160 in one message,
153 per part once split, as each part loses room to the concatenation header); one character
outside it (an emoji, a curly quote, most accented letters) turns the whole message into UCS-2
(70, then 67 per part). The extension table's characters (``^{}[]~|\\€`` and form feed) count
as two. Push: platforms show roughly 65 characters of title and 178 of body before cutting.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SMS_GSM7_SINGLE = 160
SMS_GSM7_PART = 153
SMS_UCS2_SINGLE = 70
SMS_UCS2_PART = 67
PUSH_TITLE_LIMIT = 65
PUSH_BODY_LIMIT = 178
EMAIL_SUBJECT_LIMIT = 78
ELLIPSIS = "…"


@dataclass(frozen=True)
class SmsPreview:
    text: str
    encoding: str
    units: int
    segments: int
    # Characters that forced UCS-2, so the author can replace them (a curly quote, say).
    non_gsm_characters: tuple[str, ...]


@dataclass(frozen=True)
class PushPreview:
    title: str
    body: str
    title_truncated: bool
    body_truncated: bool


@dataclass(frozen=True)
class EmailPreview:
    subject: str
    subject_truncated: bool


def sms_preview(text: str) -> SmsPreview:
    non_gsm = tuple(
        sorted({ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION})
    )
    if non_gsm:
        # UCS-2 counts UTF-16 code units: an emoji outside the BMP takes two.
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = SMS_UCS2_SINGLE, SMS_UCS2_PART, "UCS-2"
    else:
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, part, encoding = SMS_GSM7_SINGLE, SMS_GSM7_PART, "GSM-7"
    segments = 1 if units <= single else -(-units // part)
    return SmsPreview(
        text=text, encoding=encoding, units=units, segments=segments, non_gsm_characters=non_gsm
    )


def _cut(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[: limit - 1].rstrip() + ELLIPSIS, True


def push_preview(headline: str, body: str) -> PushPreview:
    title, title_cut = _cut(headline, PUSH_TITLE_LIMIT)
    text, body_cut = _cut(" ".join(body.split()), PUSH_BODY_LIMIT)
    return PushPreview(title=title, body=text, title_truncated=title_cut, body_truncated=body_cut)


def email_preview(headline: str, sender_name: str) -> EmailPreview:
    subject, cut = _cut(f"{sender_name}: {headline}", EMAIL_SUBJECT_LIMIT)
    return EmailPreview(subject=subject, subject_truncated=cut)


def sms_text(*, sender_name: str, headline: str, instruction: str | None, web: str | None) -> str:
    """What the SMS says: who from, the headline, what to do, and where to read more."""
    parts = [f"{sender_name}: {headline}"]
    if instruction:
        parts.append(instruction)
    if web:
        parts.append(web)
    return " ".join(parts)
