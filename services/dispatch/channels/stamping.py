"""Alert emails rendered once per alert and language, stamped per recipient.

Building a message with the standard library's ``email`` package and flattening it costs about
3 ms; for a London-wide alert that is most of a dispatcher's CPU. Only a few bytes of an alert
email differ between recipients: the ``To`` address, the ``Date``, the ``Message-ID`` (the
delivery id) and the two unsubscribe links (in ``List-Unsubscribe`` and in both bodies). So an
:class:`AlertEmailTemplate` builds the message once, with the same builder, placeholders where
the personal parts go, and flattens it as aiosmtplib would for a server that offers 8BITMIME;
each recipient's message is then the template's bytes joined with their own parts.

The result is byte for byte what :meth:`EmailChannel.alert_message` and ``flatten_message``
produce (``tests/dispatch/channels/test_stamping.py`` compares them), because:

- the unsubscribe links of one alert all have one length (a member id and the alert's category
  in a fixed-size token) and the placeholders have it too, so every line is as long as it will
  be and the ``email`` package picks the same transfer encoding for each part;
- quoted-printable encodes line by line, so only the lines that hold a link are encoded per
  recipient (with the same function the ``email`` package uses); 7bit and 8bit are the text
  itself.

- a base64 part (short text mostly outside ASCII) is encoded whole per recipient, with the
  same function: cheap, as base64 is C code.

Where that reasoning does not hold, the template refuses and the caller builds the message the
old way: a part whose encoding could depend on a link (a link in its first ten lines), an
address that is not plain ASCII or would be folded, a link that HTML escaping would change, and
a server without 8BITMIME (whose flattening re-encodes 8bit parts).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email import policy as email_policy
from email import quoprimime
from email.contentmanager import _encode_text  # type: ignore[attr-defined]
from email.message import EmailMessage
from email.utils import format_datetime

from aiosmtplib.email import flatten_message

from services.dispatch.rendering.email import RenderedEmail
from shared.db import utcnow

# What the email package's heuristics look at to choose between quoted-printable and base64.
_SNIFFED_LINES = 10
# An address written as is in "To: <address>" on one line of at most 78 characters.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,190}")
_MAX_TO_LENGTH = 78 - len("To: ")
# A link that HTML escaping or a header would change.
_UNSAFE_IN_LINK = re.compile(r"[&<>\"'\s\x00-\x1f\x7f]")
# An impossible date, for the template's Date header (each message gets the time it is built).
_PLACEHOLDER_DATE = "Mon, 01 Jan 1900 00:00:00 +0000"
_PLACEHOLDER_CTE = b"Content-Transfer-Encoding: 7bit"
# The email package's line length for bodies (policy.default.max_line_length).
_MAX_LINE_LENGTH = 78


@dataclass(frozen=True)
class PersonalParts:
    """What differs between two recipients of one alert email."""

    to: str
    delivery_id: uuid.UUID
    date: str
    unsubscribe_category_url: str
    unsubscribe_all_url: str


# A message built from parts: the template's bytes, and functions of the personal parts.
_Segment = bytes | Callable[[PersonalParts], bytes]


@dataclass(frozen=True)
class _PartLine:
    """One line of a body part that holds a link, encoded per recipient; for a base64 part,
    the whole part (base64 does not encode line by line)."""

    text: str  # the line (or part) with the placeholders, as rendered, without its line end
    cte: str


class AlertEmailTemplate:
    def __init__(self, segments: list[_Segment], link_lengths: tuple[int, int]) -> None:
        self._segments = segments
        self._link_lengths = link_lengths

    @classmethod
    def build(
        cls,
        *,
        render: Callable[[str, str], RenderedEmail],
        new_message: Callable[..., EmailMessage],
        link_lengths: tuple[int, int],
        message_id_domain: str,
    ) -> AlertEmailTemplate | None:
        """The template, or None where stamping could not be exact (see the module's notes).

        ``render(category_url, all_url)`` renders the alert with those links; ``new_message``
        builds the message as :meth:`EmailChannel.alert_message` does, from ``to``,
        ``message_id``, ``date``, ``rendered``, ``all_url`` and the body parts to attach."""
        mark = secrets.token_hex(8)
        category_holder = _placeholder("C" + mark, link_lengths[0])
        all_holder = _placeholder("A" + mark, link_lengths[1])
        to_holder = f"to-{mark}@placeholder.invalid"
        id_holder = str(uuid.uuid4())
        rendered = render(category_holder, all_holder)
        holders = {category_holder: "category", all_holder: "all"}

        bodies: list[tuple[str, list[str | _PartLine]]] = []
        for text in (rendered.text, rendered.html):
            encoded = _encode_part(text, holders)
            if encoded is None:
                return None
            bodies.append(encoded)
        part_marks = [f"TAWNYPART{index}{mark}" for index in range(len(bodies))]
        message = new_message(
            to=to_holder,
            message_id=f"<{id_holder}@{message_id_domain}>",
            date=_PLACEHOLDER_DATE,
            rendered=rendered,
            all_url=all_holder,
            # 7bit keeps a placeholder as written; the part's header gets its real encoding below.
            parts=[(part_mark, "7bit") for part_mark in part_marks],
        )
        flat = flatten_message(message, utf8=False, cte_type="8bit")

        header_fields: dict[str, Callable[[PersonalParts], bytes]] = {
            f"To: {to_holder}": lambda p: f"To: {p.to}".encode(),
            f"Date: {_PLACEHOLDER_DATE}": lambda p: f"Date: {p.date}".encode(),
            id_holder: lambda p: str(p.delivery_id).encode(),
            all_holder: lambda p: p.unsubscribe_all_url.encode(),
        }
        segments: list[_Segment] = []
        body_fields = {
            f"{part_mark}\r\n": body for part_mark, body in zip(part_marks, bodies, strict=True)
        }
        pattern = re.compile(
            "|".join(re.escape(key) for key in [*header_fields, *body_fields]).encode()
        )
        position = 0
        found: list[str] = []
        for match in pattern.finditer(flat):
            segments.append(flat[position : match.start()])
            key = match.group().decode()
            found.append(key)
            if key in header_fields:
                segments.append(header_fields[key])
            else:
                cte, lines = body_fields[key]
                before = segments[-1]
                assert isinstance(before, bytes)
                head, written, tail = before.rpartition(_PLACEHOLDER_CTE)
                if not written:
                    return None
                segments[-1] = head + f"Content-Transfer-Encoding: {cte}".encode() + tail
                segments.extend(_body_segments(lines, holders))
            position = match.end()
        segments.append(flat[position:])
        if sorted(found) != sorted([*header_fields, *body_fields]):
            return None  # a field folded or encoded out of sight: not exact
        return cls(_merged(segments), link_lengths)

    def accepts(self, parts: PersonalParts) -> bool:
        """Whether this recipient's message can be stamped (otherwise: build it the old way)."""
        return (
            len(parts.to) <= _MAX_TO_LENGTH
            and _PLAIN_ADDRESS.fullmatch(parts.to) is not None
            and (len(parts.unsubscribe_category_url), len(parts.unsubscribe_all_url))
            == self._link_lengths
            and _UNSAFE_IN_LINK.search(parts.unsubscribe_category_url) is None
            and _UNSAFE_IN_LINK.search(parts.unsubscribe_all_url) is None
        )

    def stamp(self, parts: PersonalParts) -> bytes:
        """The recipient's message as aiosmtplib would flatten it (for an 8BITMIME server)."""
        return b"".join(
            segment if isinstance(segment, bytes) else segment(parts) for segment in self._segments
        )


def message_date() -> str:
    """The Date header's value for a message built now."""
    return format_datetime(utcnow())


def _placeholder(prefix: str, length: int) -> str:
    if length < len(prefix):
        raise ValueError("a link is shorter than its placeholder")
    return prefix + "x" * (length - len(prefix))


def _encode_part(text: str, holders: dict[str, str]) -> tuple[str, list[str | _PartLine]] | None:
    """The part's transfer encoding and its encoded lines (without line ends): strings where
    the line is the same for everyone, :class:`_PartLine` where it holds a link."""
    cte, _data = _encode_text(text, "utf-8", None, email_policy.default)
    raw_lines = text.encode("utf-8").splitlines()
    personal = [any(h.encode() in line for h in holders) for line in raw_lines]
    if cte in ("quoted-printable", "base64") and any(personal[:_SNIFFED_LINES]):
        return None  # the choice between them could depend on the links
    if cte == "base64":
        return cte, [_PartLine(text.rstrip("\n"), cte)]
    lines: list[str | _PartLine] = []
    for line, is_personal in zip(raw_lines, personal, strict=True):
        if is_personal:
            lines.append(_PartLine(line.decode("utf-8"), cte))
        else:
            lines.append(_encode_line(line, cte))
    return cte, lines


def _encode_line(line: bytes, cte: str) -> str:
    if cte == "quoted-printable":
        return quoprimime.body_encode(line.decode("latin-1"), _MAX_LINE_LENGTH)
    return line.decode("ascii", "surrogateescape")


def _body_segments(lines: list[str | _PartLine], holders: dict[str, str]) -> list[_Segment]:
    segments: list[_Segment] = []
    for line in lines:
        if isinstance(line, str):
            # QP soft breaks are "=\n" inside an encoded line: on the wire, CRLF.
            segments.append(line.replace("\n", "\r\n").encode("ascii", "surrogateescape"))
        else:
            segments.append(_personal_line(line, holders))
        segments.append(b"\r\n")
    return segments


def _personal_line(line: _PartLine, holders: dict[str, str]) -> Callable[[PersonalParts], bytes]:
    (category_holder,) = (h for h, name in holders.items() if name == "category")
    (all_holder,) = (h for h, name in holders.items() if name == "all")

    def stamped(parts: PersonalParts) -> bytes:
        text = line.text.replace(category_holder, parts.unsubscribe_category_url).replace(
            all_holder, parts.unsubscribe_all_url
        )
        if line.cte == "base64":
            _cte, encoded = _encode_text(text, "utf-8", "base64", email_policy.default)
            return str(encoded).rstrip("\n").replace("\n", "\r\n").encode("ascii")
        data = text.encode("utf-8")
        if line.cte == "quoted-printable":
            encoded = quoprimime.body_encode(data.decode("latin-1"), _MAX_LINE_LENGTH)
            return encoded.replace("\n", "\r\n").encode("ascii")
        return data

    return stamped


def _merged(segments: list[_Segment]) -> list[_Segment]:
    """Adjacent constant bytes joined once, so that stamping joins few pieces."""
    merged: list[_Segment] = []
    for segment in segments:
        if isinstance(segment, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] = merged[-1] + segment
        else:
            merged.append(segment)
    return merged
