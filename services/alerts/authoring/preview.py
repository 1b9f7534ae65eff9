"""How an alert will look on each channel, so an author sees an SMS split or a push cut short
before publishing rather than after.

SMS: segments counted as providers bill them (:mod:`shared.sms`), with the characters that
turned the message into UCS-2 so the author can replace them. Push: platforms show roughly 65
characters of title and 178 of body before cutting.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.sms import count_segments, non_gsm_characters

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
    cost = count_segments(text)
    return SmsPreview(
        text=text,
        encoding=cost.encoding.value,
        units=cost.units,
        segments=cost.segments,
        non_gsm_characters=non_gsm_characters(text),
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
