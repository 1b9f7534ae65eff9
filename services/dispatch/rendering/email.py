"""Emails rendered from the Jinja2 templates in ``templates/``: a subject, a plain-text part and
an accessible HTML part (a language, one ``h1`` then ``h2`` sections, text at 4.5:1 contrast or
more, links that say where they go). HTML templates are autoescaped: what officers and members
wrote can never become markup."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from services.dispatch.preferences.rules import DEFAULT_LANGUAGE, LONDON
from shared.events import (
    AlertContent,
    MemberNoticeRequested,
    PasswordResetRequested,
    VerificationEmailRequested,
)

TEMPLATES = Path(__file__).parent / "templates"

VERIFICATION_SUBJECT = "Confirm your email address for Tawny"
PASSWORD_RESET_SUBJECT = "Reset your Tawny password"  # noqa: S105 (a subject line)

# Header values must be one line: a control character could end the header early and let the
# text after it be read as another header. Alerts already refuses them in headlines.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]+")

# A coloured bar beside the headline (decoration, not the only sign: the severity is written).
SEVERITY_ACCENTS = {
    "Extreme": "#d4351c",
    "Severe": "#f47738",
    "Moderate": "#ffdd00",
}
DEFAULT_ACCENT = "#1d70b8"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class UnsubscribeUrls:
    """The member's links in an alert email: this alert's category, or everything."""

    category: str
    everything: str


def one_line(text: str) -> str:
    return _CONTROL_CHARACTERS.sub(" ", text).strip()


def category_label(category: str) -> str:
    """``violence_with_injury`` -> ``Violence with injury``."""
    return category.replace("_", " ").strip().capitalize()


def london_time(moment: datetime) -> str:
    """``Monday 23 November 2026, 12:00 GMT``: the wall clock a Londoner reads, and which."""
    local = moment.astimezone(LONDON)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname()}"


def _paragraphs(text: str) -> Markup:
    """Blank-line-separated blocks as ``<p>``, single newlines as ``<br>``, all escaped."""
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>").join(escape(line) for line in block.split("\n")))
        for block in text.split("\n\n")
        if block.strip()
    )


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["paragraphs"] = _paragraphs
    return env


def _render(name: str, subject: str, **context: object) -> RenderedEmail:
    env = environment()
    context.setdefault("lang", DEFAULT_LANGUAGE)
    title = one_line(subject)
    return RenderedEmail(
        subject=title,
        text=env.get_template(f"{name}.txt.j2").render(title=title, **context),
        html=env.get_template(f"{name}.html.j2").render(title=title, **context),
    )


def alert_subject(content: AlertContent) -> str:
    """``[Severe] Burglary: <headline>``, the headline as the officer wrote it."""
    return one_line(f"[{content.severity}] {category_label(content.category)}: {content.headline}")


def alert_email(
    content: AlertContent, *, unsubscribe: UnsubscribeUrls | None = None
) -> RenderedEmail:
    # AlertContent carries one info block, in English: its language is the email's.
    return _render(
        "alert",
        alert_subject(content),
        content=content,
        category=category_label(content.category),
        accent=SEVERITY_ACCENTS.get(content.severity, DEFAULT_ACCENT),
        sent=london_time(content.sent_at),
        expires=london_time(content.expires) if content.expires else None,
        unsubscribe_category_url=unsubscribe.category if unsubscribe else None,
        unsubscribe_all_url=unsubscribe.everything if unsubscribe else None,
    )


@dataclass(frozen=True)
class _DigestItem:
    content: AlertContent
    category: str
    sent: str


def digest_email(
    contents: Sequence[AlertContent], *, unsubscribe_all_url: str, lang: str = DEFAULT_LANGUAGE
) -> RenderedEmail:
    count = len(contents)
    subject = f"Your Tawny daily digest: {count} alert{'' if count == 1 else 's'}"
    items = [
        _DigestItem(c, category_label(c.category), london_time(c.sent_at))
        for c in sorted(contents, key=lambda c: c.sent_at)
    ]
    return _render(
        "digest", subject, items=items, unsubscribe_all_url=unsubscribe_all_url, lang=lang
    )


def verification_email(requested: VerificationEmailRequested) -> RenderedEmail:
    return _render(
        "verification",
        VERIFICATION_SUBJECT,
        pseudonym=requested.pseudonym,
        url=requested.verify_url,
    )


def password_reset_email(requested: PasswordResetRequested) -> RenderedEmail:
    return _render(
        "password_reset",
        PASSWORD_RESET_SUBJECT,
        pseudonym=requested.pseudonym,
        url=requested.reset_url,
    )


def notice_email(notice: MemberNoticeRequested) -> RenderedEmail:
    return _render("notice", notice.subject, body=notice.body)


def page(name: str, **context: object) -> str:
    """A small web page of dispatch's own (the unsubscribe confirmation)."""
    return environment().get_template(f"{name}.html.j2").render(**context)
