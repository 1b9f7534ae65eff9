"""OASIS CAP 1.2 XML: writing an alert as a CAP document (reading is ``cap.reading``).

Tawny's own fields travel as CAP ``parameter`` elements named ``tawny:…`` and ward and borough
codes as ``geocode`` elements named ``ONS_WARD`` and ``ONS_BOROUGH``, so a Tawny alert survives a
round trip through CAP. Each language is one ``info`` block; a translation's own event,
areaDesc, contact and web (as a received message worded them) are written in its block.

Output is stable: coordinates in decimal degrees with ``COORDINATE_DECIMALS`` places (never
exponent notation), the CAP namespace always the default one, and nothing process-wide is
changed to write it (``ElementTree.register_namespace`` is global: a feed registering its own
namespace would otherwise change how every later CAP document is written).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from services.alerts.authoring.schemas import AlertCreate
from services.alerts.models import Alert, CapStatus, MsgType

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/cap+xml"
WARD_GEOCODE = "ONS_WARD"
BOROUGH_GEOCODE = "ONS_BOROUGH"
PARAM_CRIME_TYPE = "tawny:crimeType"
PARAM_REFERENCE = "tawny:reference"
PARAM_AUDIENCE = "tawny:audience"
PARAM_CHANNELS = "tawny:channels"
PARAM_SUSPECT = "tawny:suspect"
PARAM_NO_VICTIM_DETAILS = "tawny:noVictimDetails"
CONFIRMED = "confirmed"
# Six places of a degree is about 0.1 m: finer than any target, and a fixed width.
COORDINATE_DECIMALS = 6
RADIUS_DECIMALS = 3


def _q(name: str) -> str:
    return f"{{{CAP_NS}}}{name}"


def cap_datetime(value: datetime) -> str:
    """CAP's dateTime: seconds precision and an explicit offset, never "Z"."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


class CapMessage(BaseModel):
    """A CAP document as Tawny understands it: the envelope fields and the alert's content."""

    model_config = ConfigDict(frozen=True)

    identifier: str
    sender: str
    sent: datetime
    status: CapStatus
    msg_type: MsgType
    references: tuple[str, ...] = ()
    alert: AlertCreate
    # No tawny:crimeType: the alert's crime type was derived (cap/crime_types.py).
    crime_type_derived: bool = False


# --- writing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapResource:
    """A CAP ``resource``: a file that goes with the alert (Tawny's pictures)."""

    description: str
    mime_type: str
    size: int
    uri: str
    sha1: str


def to_xml(
    alert: Alert,
    *,
    sender_name: str,
    references: list[Alert] | None = None,
    resources: Sequence[CapResource] = (),
) -> bytes:
    """The alert (one CAP message) as a CAP 1.2 document. ``references`` are the earlier
    messages it refers to (the original, then earlier updates), for an Update or Cancel;
    ``resources`` the pictures that go with it, in every info block."""
    root = ET.Element(_q("alert"))
    _sub(root, "identifier", alert.identifier)
    _sub(root, "sender", alert.sender)
    _sub(root, "sent", cap_datetime(alert.sent or alert.published_at or alert.created_at))
    _sub(root, "status", alert.cap_status.value)
    _sub(root, "msgType", alert.msg_type.value)
    _sub(root, "scope", alert.scope.value)
    if alert.restriction:
        _sub(root, "restriction", alert.restriction)
    if references:
        _sub(
            root,
            "references",
            " ".join(
                f"{ref.sender},{ref.identifier},"
                f"{cap_datetime(ref.sent or ref.published_at or ref.created_at)}"
                for ref in references
            ),
        )
    first = Wording(
        alert.language,
        alert.headline,
        alert.body,
        alert.instruction,
        alert.event,
        alert.area_desc,
        alert.contact,
        alert.web,
    )
    _info(root, alert, sender_name, first, resources)
    for t in alert.translations:
        wording = Wording(
            t["language"],
            t["headline"],
            t["description"],
            t.get("instruction"),
            t.get("event") or first.event,
            t.get("area_desc") or first.area_desc,
            t.get("contact") or first.contact,
            t.get("web") or first.web,
        )
        _info(root, alert, sender_name, wording, resources)
    # default_namespace writes xmlns="…" for this document only (no global registry).
    body: bytes = ET.tostring(
        root, encoding="utf-8", xml_declaration=False, default_namespace=CAP_NS
    )
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


@dataclass(frozen=True)
class Wording:
    """What one info block says in its language."""

    language: str
    headline: str
    description: str
    instruction: str | None
    event: str
    area_desc: str
    contact: str | None
    web: str | None


def _info(
    root: ET.Element,
    alert: Alert,
    sender_name: str,
    wording: Wording,
    resources: Sequence[CapResource],
) -> None:
    info = _sub(root, "info")
    _sub(info, "language", wording.language)
    for category in alert.categories:
        _sub(info, "category", category)
    _sub(info, "event", wording.event)
    for response in alert.response_types:
        _sub(info, "responseType", response)
    _sub(info, "urgency", alert.urgency.value)
    _sub(info, "severity", alert.severity.value)
    _sub(info, "certainty", alert.certainty.value)
    _sub(info, "expires", cap_datetime(alert.expires))
    _sub(info, "senderName", sender_name)
    _sub(info, "headline", wording.headline)
    _sub(info, "description", wording.description)
    if wording.instruction:
        _sub(info, "instruction", wording.instruction)
    if wording.web:
        _sub(info, "web", wording.web)
    if wording.contact:
        _sub(info, "contact", wording.contact)
    parameters: list[tuple[str, str]] = [
        (PARAM_CRIME_TYPE, alert.crime_type.value),
        (PARAM_AUDIENCE, alert.audience.value),
        (PARAM_CHANNELS, " ".join(alert.channels)),
        (PARAM_NO_VICTIM_DETAILS, CONFIRMED if alert.no_victim_details_confirmed else "no"),
    ]
    if alert.reference:
        parameters.append((PARAM_REFERENCE, alert.reference))
    parameters.extend((PARAM_SUSPECT, json.dumps(s, sort_keys=True)) for s in alert.suspects)
    for name, value in parameters:
        parameter = _sub(info, "parameter")
        _sub(parameter, "valueName", name)
        _sub(parameter, "value", value)
    for resource in resources:
        element = _sub(info, "resource")
        _sub(element, "resourceDesc", resource.description)
        _sub(element, "mimeType", resource.mime_type)
        _sub(element, "size", str(resource.size))
        _sub(element, "uri", resource.uri)
        _sub(element, "digest", resource.sha1)
    area = _sub(info, "area")
    _sub(area, "areaDesc", wording.area_desc)
    for ring in alert.target_polygons:
        _sub(area, "polygon", " ".join(f"{degrees(lat)},{degrees(lon)}" for lat, lon in ring))
    for circle in alert.target_circles:
        _sub(
            area,
            "circle",
            f"{degrees(circle['lat'])},{degrees(circle['lon'])} "
            f"{_fixed(circle['radius_km'], RADIUS_DECIMALS)}",
        )
    for name, codes in (
        (WARD_GEOCODE, alert.target_ward_codes),
        (BOROUGH_GEOCODE, alert.target_borough_codes),
    ):
        for code in codes:
            geocode = _sub(area, "geocode")
            _sub(geocode, "valueName", name)
            _sub(geocode, "value", code)


def degrees(value: float) -> str:
    """Decimal degrees with a fixed number of places: ``-0.000050``, never ``-5e-05``."""
    return _fixed(value, COORDINATE_DECIMALS)


def _fixed(value: float, places: int) -> str:
    text = f"{float(value):.{places}f}"
    # A value that rounds to zero is written 0, not -0.000000.
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, _q(name))
    if text is not None:
        element.text = text
    return element
