"""Reading CAP 1.2 as other systems write it: safely, against the official schema, then by the
rules the schema cannot express.

In order, each refusal a 4xx problem whose ``element`` names what is at fault
(``alert/info[2]/area[1]/polygon[1]``, one-based as in XPath):

1. Well-formed and safe (defusedxml: no DTD, no entities, nothing fetched), a CAP 1.2
   ``alert`` root, nested no deeper than ``MAX_ELEMENT_DEPTH``.
2. Valid against the OASIS XSD (``schema_path``; see ``AlertsSettings.cap_schema``).
3. CAP's own rules the XSD leaves to prose: ``identifier`` and ``sender`` without spaces,
   commas or the restricted ``<`` and ``&``; every dateTime with seconds and an explicit
   offset; ``references`` as space-separated ``sender,identifier,sent`` triples; coordinates
   as decimal degrees (no exponent, no NaN). And Tawny's storage limits, so that nothing
   reaches the database too long for its column.
4. One ``info`` block per language. CAP intends further blocks as translations, so they may
   word ``event``, ``senderName``, ``headline``, ``description``, ``instruction``,
   ``contact``, ``web`` and ``areaDesc`` in their own language; everything else
   (categories, urgency, severity, certainty, response types, event codes, times,
   parameters and the area's shapes and geocodes) must be the same in every block.

What the message means for Tawny (its area's coverage, the crime type, the alert) is decided
by ``cap.service``; this module only reads.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

# defusedxml ships no type information, and its stubs are not a dependency of Tawny.
import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException

from services.alerts.cap.document import BOROUGH_GEOCODE, CAP_NS, WARD_GEOCODE
from services.alerts.errors import CapDocumentError
from services.alerts.models import IDENTIFIER_MAX_LENGTH, SENDER_MAX_LENGTH, CapStatus, MsgType

# CAP nests at most five deep (alert, info, area, geocode, value); anything far deeper is an
# attack on the recursive code that walks the tree (serialising, schema validation).
MAX_ELEMENT_DEPTH = 16
# One block per language: Tawny keeps the first and five translations.
MAX_INFO_BLOCKS = 6
MAX_REFERENCES = 100
# CAP 1.2 section 3.3.2: "MUST NOT include spaces, commas or restricted characters (< and &)".
CAP_TOKEN = re.compile(r"^[^\s,<&]+$")
# CAP 1.2 section 3.3.2: dateTime with seconds and an offset, "-00:00" or "+hh:mm", never Z.
CAP_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")
DECIMAL_DEGREES = re.compile(r"^[-+]?\d{1,3}(\.\d+)?$")
DECIMAL_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?$")
# What a translated block may say in its own words.
TRANSLATABLE = frozenset(
    {
        "language",
        "event",
        "senderName",
        "headline",
        "description",
        "instruction",
        "contact",
        "web",
        "resource",
        "audience",
    }
)
DATETIME_ELEMENTS = ("effective", "onset", "expires")


def _q(name: str) -> str:
    return f"{{{CAP_NS}}}{name}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@dataclass(frozen=True)
class InfoBlock:
    """One language's wording of the alert."""

    path: str
    language: str
    event: str | None
    sender_name: str | None
    headline: str | None
    description: str | None
    instruction: str | None
    contact: str | None
    web: str | None
    area_desc: str | None


@dataclass(frozen=True)
class ReceivedArea:
    """The union of the first block's ``area`` elements, as CAP wrote it. ``foreign_geocodes``
    are geocodes of schemes Tawny does not resolve (SAME, UGC, FIPS6...)."""

    ward_codes: list[str] = field(default_factory=list)
    borough_codes: list[str] = field(default_factory=list)
    circles: list[dict[str, float]] = field(default_factory=list)
    polygons: list[list[list[float]]] = field(default_factory=list)
    foreign_geocodes: list[tuple[str, str]] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    # Where each circle and polygon was written, for problems that name it.
    circle_paths: list[str] = field(default_factory=list)
    polygon_paths: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReceivedMessage:
    """A CAP message read and checked, before Tawny decides what it means."""

    identifier: str
    sender: str
    sent: datetime
    status: CapStatus
    msg_type: MsgType
    scope: str
    references: tuple[str, ...]
    blocks: list[InfoBlock]
    categories: list[str]
    response_types: list[str]
    urgency: str | None
    severity: str | None
    certainty: str | None
    expires: datetime | None
    event_codes: list[tuple[str, str]]
    parameters: dict[str, list[str]]
    area: ReceivedArea


@lru_cache(maxsize=4)
def load_schema(path: str) -> Any:
    """The official CAP 1.2 schema, loaded once per path."""
    import xmlschema

    return xmlschema.XMLSchema(Path(path).read_text(encoding="utf-8"))


def parse_xml(data: bytes, *, schema_path: str | None = None) -> ET.Element:
    """A well-formed, safe document's root; valid against the schema when one is given."""
    try:
        root: ET.Element = SafeET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as error:
        raise CapDocumentError(
            "The document declares a DTD or entities, which are never accepted.",
            reason=type(error).__name__,
        ) from error
    except ET.ParseError as error:
        raise CapDocumentError("The document is not well-formed XML.", reason=str(error)) from error
    except RecursionError as error:
        raise CapDocumentError(
            f"The document nests elements deeper than {MAX_ELEMENT_DEPTH} levels."
        ) from error
    if root.tag != _q("alert"):
        raise CapDocumentError(
            f"The document is not a CAP 1.2 alert (root element alert in namespace {CAP_NS}).",
            element=root.tag[:100],
        )
    _refuse_deep_nesting(root)
    if schema_path is not None:
        errors = list(load_schema(schema_path).iter_errors(root))
        if errors:
            first = errors[0]
            raise CapDocumentError(
                "The document is not valid CAP 1.2 (OASIS CAP-v1.2.xsd): "
                f"{str(first.reason or first.message)[:300]}",
                element=_schema_path(first.path),
                errors=[
                    {"element": _schema_path(e.path), "reason": str(e.reason or e.message)[:300]}
                    for e in errors[:10]
                ],
            )
    return root


def _schema_path(path: str | None) -> str:
    """xmlschema's ``/cap:alert/cap:info[1]/cap:area[1]`` as ``alert/info[1]/area[1]``."""
    if not path:
        return "alert"
    bare = re.sub(r"\{[^}]*\}", "", path)
    return "/".join(part.split(":")[-1] for part in bare.strip("/").split("/"))


def _refuse_deep_nesting(root: ET.Element) -> None:
    """Walk the tree without recursion and refuse it if it nests deeper than CAP ever does."""
    pending: list[tuple[ET.Element, int]] = [(root, 1)]
    while pending:
        element, depth = pending.pop()
        if depth > MAX_ELEMENT_DEPTH:
            raise CapDocumentError(
                f"The document nests elements deeper than {MAX_ELEMENT_DEPTH} levels."
            )
        pending.extend((child, depth + 1) for child in element)


def read_message(data: bytes, *, schema_path: str | None = None) -> ReceivedMessage:
    """The checked message (see the module for every check)."""
    root = parse_xml(data, schema_path=schema_path)
    identifier = _token(root, "identifier", IDENTIFIER_MAX_LENGTH)
    sender = _token(root, "sender", SENDER_MAX_LENGTH)
    sent = _datetime(_required(root, "sent"), "alert/sent")
    status = _enum(CapStatus, _required(root, "status"), "alert/status")
    msg_type_text = _required(root, "msgType")
    if msg_type_text in ("Ack", "Error"):
        raise CapDocumentError(
            f"Tawny takes Alert, Update and Cancel messages, not {msg_type_text}.",
            element="alert/msgType",
        )
    msg_type = _enum(MsgType, msg_type_text, "alert/msgType")
    scope = _required(root, "scope")
    if scope == "Private":
        raise CapDocumentError(
            "Tawny does not deliver Private (addressed) alerts.", element="alert/scope"
        )
    references = _references(_text(root, "references"))
    infos = root.findall(_q("info"))
    if not infos:
        raise CapDocumentError("Tawny needs at least one info block.", element="alert/info")
    if len(infos) > MAX_INFO_BLOCKS:
        raise CapDocumentError(
            f"Tawny keeps at most {MAX_INFO_BLOCKS} info blocks, one per language; this "
            f"message has {len(infos)}.",
            element=f"alert/info[{MAX_INFO_BLOCKS + 1}]",
        )
    blocks = _blocks(infos)
    first = infos[0]
    for index, info in enumerate(infos, start=1):
        for name in DATETIME_ELEMENTS:
            value = _text(info, name)
            if value is not None:
                _datetime(value, f"alert/info[{index}]/{name}")
    expires_text = _text(first, "expires")
    return ReceivedMessage(
        identifier=identifier,
        sender=sender,
        sent=sent,
        status=status,
        msg_type=msg_type,
        scope=scope,
        references=references,
        blocks=blocks,
        categories=[c.text or "" for c in first.findall(_q("category"))],
        response_types=[r.text or "" for r in first.findall(_q("responseType"))],
        urgency=_text(first, "urgency"),
        severity=_text(first, "severity"),
        certainty=_text(first, "certainty"),
        expires=None if expires_text is None else _datetime(expires_text, "alert/info[1]/expires"),
        event_codes=_pairs(first, "eventCode"),
        parameters=_parameters(first),
        area=_area(first),
    )


def _blocks(infos: list[ET.Element]) -> list[InfoBlock]:
    """Each block's wording, after checking the blocks are translations of one alert."""
    blocks: list[InfoBlock] = []
    seen: dict[str, str] = {}
    reference = _language_independent(infos[0])
    for index, info in enumerate(infos, start=1):
        path = f"alert/info[{index}]"
        # CAP's default language is en-US.
        language = _text(info, "language") or "en-US"
        key = language.lower()
        if key in seen:
            raise CapDocumentError(
                f"Tawny keeps one info block per language, and {seen[key]} is already in "
                f"{language}. Send a separate message for a different alert in the same "
                "language.",
                element=f"{path}/language",
            )
        seen[key] = path
        if index > 1:
            difference = _first_difference(reference, _language_independent(info))
            if difference is not None:
                raise CapDocumentError(
                    "Further info blocks are read as translations of the first: only their "
                    "wording (event, senderName, headline, description, instruction, contact, "
                    "web, areaDesc) may differ, and this one's "
                    f"{difference} differs.",
                    element=f"{path}/{difference}",
                )
        blocks.append(
            InfoBlock(
                path=path,
                language=language,
                event=_text(info, "event"),
                sender_name=_text(info, "senderName"),
                headline=_text(info, "headline"),
                description=_text(info, "description"),
                instruction=_text(info, "instruction"),
                contact=_text(info, "contact"),
                web=_text(info, "web"),
                area_desc="; ".join(
                    d for d in (_text(a, "areaDesc") for a in info.findall(_q("area"))) if d
                )
                or None,
            )
        )
    return blocks


def _language_independent(info: ET.Element) -> list[tuple[str, str]]:
    """What must match across translations: every element but the wording, with areas by
    their shapes and geocodes (an areaDesc is wording)."""
    found: list[tuple[str, str]] = []
    for child in info:
        name = _local(child.tag)
        if name in TRANSLATABLE:
            continue
        if name == "area":
            for part in child:
                if _local(part.tag) != "areaDesc":
                    found.append((f"area/{_local(part.tag)}", _canonical(part)))
        else:
            found.append((name, _canonical(child)))
    return found


def _canonical(element: ET.Element) -> str:
    return " ".join(f"{_local(e.tag)}={' '.join((e.text or '').split())}" for e in element.iter())


def _first_difference(reference: list[tuple[str, str]], other: list[tuple[str, str]]) -> str | None:
    for (name, value), (other_name, other_value) in zip(reference, other, strict=False):
        if name != other_name or value != other_value:
            return other_name if name == other_name else name
    if len(reference) != len(other):
        longer = reference if len(reference) > len(other) else other
        return longer[min(len(reference), len(other))][0]
    return None


def _token(root: ET.Element, name: str, max_length: int) -> str:
    value = _required(root, name)
    if not CAP_TOKEN.match(value):
        raise CapDocumentError(
            f"A CAP {name} must not contain spaces, commas, < or & (CAP 1.2, 3.2.1).",
            element=f"alert/{name}",
        )
    if len(value) > max_length:
        raise CapDocumentError(
            f"Tawny keeps a {name} of at most {max_length} characters; this one has {len(value)}.",
            element=f"alert/{name}",
        )
    return value


def _datetime(value: str, path: str) -> datetime:
    if not CAP_DATETIME.match(value.strip()):
        raise CapDocumentError(
            "A CAP dateTime has seconds and an explicit offset, such as "
            f"2026-11-23T12:00:00+00:00 (CAP 1.2, 3.3.2); not {value[:40]!r}.",
            element=path,
        )
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise CapDocumentError(f"{value[:40]!r} is not a date and time.", element=path) from error


def _references(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    references = tuple(value.split())
    if len(references) > MAX_REFERENCES:
        raise CapDocumentError(
            f"Tawny reads at most {MAX_REFERENCES} references.", element="alert/references"
        )
    for reference in references:
        parts = reference.split(",")
        if len(parts) != 3 or not all(parts) or not CAP_DATETIME.match(parts[2]):
            raise CapDocumentError(
                "Each reference is sender,identifier,sent (the sent with its offset), "
                "separated by spaces (CAP 1.2, 3.2.1).",
                element="alert/references",
                reference=reference[:300],
            )
    return references


def _enum(enum: Any, value: str, path: str) -> Any:
    try:
        return enum(value)
    except ValueError as error:
        raise CapDocumentError(
            f"{value[:40]!r} is not a CAP 1.2 value here.", element=path
        ) from error


def _text(parent: ET.Element, name: str) -> str | None:
    element = parent.find(_q(name))
    return element.text if element is not None and element.text is not None else None


def _required(parent: ET.Element, name: str) -> str:
    value = _text(parent, name)
    if value is None:
        raise CapDocumentError(f"The document has no {name}.", element=f"alert/{name}")
    return value


def _pairs(info: ET.Element, name: str) -> list[tuple[str, str]]:
    return [
        (_text(pair, "valueName") or "", _text(pair, "value") or "")
        for pair in info.findall(_q(name))
    ]


def _parameters(info: ET.Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in _pairs(info, "parameter"):
        found.setdefault(name, []).append(value)
    return found


def _area(info: ET.Element) -> ReceivedArea:
    area = ReceivedArea()
    for a_index, element in enumerate(info.findall(_q("area")), start=1):
        path = f"alert/info[1]/area[{a_index}]"
        area.descriptions.append(_text(element, "areaDesc") or "")
        for p_index, polygon in enumerate(element.findall(_q("polygon")), start=1):
            where = f"{path}/polygon[{p_index}]"
            area.polygons.append([_point(pair, where) for pair in (polygon.text or "").split()])
            area.polygon_paths.append(where)
        for c_index, circle in enumerate(element.findall(_q("circle")), start=1):
            where = f"{path}/circle[{c_index}]"
            parts = (circle.text or "").split()
            if len(parts) != 2 or not DECIMAL_NUMBER.match(parts[1]):
                raise CapDocumentError(
                    "A circle is 'latitude,longitude radius' in decimal degrees and kilometres.",
                    element=where,
                )
            lat, lon = _point(parts[0], where)
            area.circles.append({"lat": lat, "lon": lon, "radius_km": float(parts[1])})
            area.circle_paths.append(where)
        for name, value in _pairs(element, "geocode"):
            if name == WARD_GEOCODE:
                area.ward_codes.append(value.strip())
            elif name == BOROUGH_GEOCODE:
                area.borough_codes.append(value.strip())
            else:
                area.foreign_geocodes.append((name[:50], value[:50]))
    return area


def _point(pair: str, where: str) -> list[float]:
    parts = pair.split(",")
    if len(parts) != 2 or not all(DECIMAL_DEGREES.match(p) for p in parts):
        raise CapDocumentError(
            "Coordinates are 'latitude,longitude' pairs in decimal degrees (WGS 84), without "
            f"exponents; not {pair[:60]!r}.",
            element=where,
        )
    lat, lon = (float(p) for p in parts)
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise CapDocumentError(f"{pair[:60]!r} is not a point on Earth.", element=where)
    return [lat, lon]
