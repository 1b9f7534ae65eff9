"""OASIS CAP 1.2 XML: writing an alert as a CAP document, and reading one safely.

Reading never expands entities, never fetches anything, and refuses any DTD (defusedxml); the
caller bounds the size before calling. Tawny's own fields travel as CAP ``parameter`` elements
named ``tawny:…`` and ward and borough codes as ``geocode`` elements named ``ONS_WARD`` and
``ONS_BOROUGH``, so a Tawny alert survives a round trip through CAP.

Tawny keeps one classification per alert, so every ``info`` block of a document must share the
first one's category, event, urgency, severity and certainty; the others differ only by language
text. Several ``area`` elements are merged into one target (CAP's areas are a union anyway).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

# defusedxml ships no type information, and its stubs are not a dependency of Tawny.
import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException
from pydantic import BaseModel, ConfigDict, ValidationError

from services.alerts.authoring.schemas import AlertCreate
from services.alerts.errors import CapDocumentError
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
# CAP nests at most five deep (alert, info, area, geocode, value); anything far deeper is an
# attack on the recursive code that walks the tree (serialising, schema validation).
MAX_ELEMENT_DEPTH = 16

ET.register_namespace("", CAP_NS)


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
    blocks = [
        (alert.language, alert.headline, alert.body, alert.instruction),
        *(
            (t["language"], t["headline"], t["description"], t.get("instruction"))
            for t in alert.translations
        ),
    ]
    for language, headline, description, instruction in blocks:
        _info(root, alert, sender_name, language, headline, description, instruction, resources)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _info(
    root: ET.Element,
    alert: Alert,
    sender_name: str,
    language: str,
    headline: str,
    description: str,
    instruction: str | None,
    resources: Sequence[CapResource],
) -> None:
    info = _sub(root, "info")
    _sub(info, "language", language)
    for category in alert.categories:
        _sub(info, "category", category)
    _sub(info, "event", alert.event)
    for response in alert.response_types:
        _sub(info, "responseType", response)
    _sub(info, "urgency", alert.urgency.value)
    _sub(info, "severity", alert.severity.value)
    _sub(info, "certainty", alert.certainty.value)
    _sub(info, "expires", cap_datetime(alert.expires))
    _sub(info, "senderName", sender_name)
    _sub(info, "headline", headline)
    _sub(info, "description", description)
    if instruction:
        _sub(info, "instruction", instruction)
    if alert.web:
        _sub(info, "web", alert.web)
    if alert.contact:
        _sub(info, "contact", alert.contact)
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
    _sub(area, "areaDesc", alert.area_desc)
    for ring in alert.target_polygons:
        _sub(area, "polygon", " ".join(f"{_num(lat)},{_num(lon)}" for lat, lon in ring))
    for circle in alert.target_circles:
        _sub(
            area,
            "circle",
            f"{_num(circle['lat'])},{_num(circle['lon'])} {_num(circle['radius_km'])}",
        )
    for name, codes in (
        (WARD_GEOCODE, alert.target_ward_codes),
        (BOROUGH_GEOCODE, alert.target_borough_codes),
    ):
        for code in codes:
            geocode = _sub(area, "geocode")
            _sub(geocode, "valueName", name)
            _sub(geocode, "value", code)


def _num(value: float) -> str:
    return repr(float(value))


def _sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, _q(name))
    if text is not None:
        element.text = text
    return element


# --- reading --------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def load_schema(path: str) -> Any:
    """The official CAP 1.2 schema, loaded once per path (it is not part of this repository)."""
    import xmlschema

    return xmlschema.XMLSchema(Path(path).read_text(encoding="utf-8"))


def parse_xml(data: bytes, *, schema_path: str | None = None) -> ET.Element:
    """A well-formed, safe document's root; valid against the schema when one is configured."""
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
    if root.tag != _q("alert"):
        raise CapDocumentError("The document is not a CAP 1.2 alert.", root=root.tag[:100])
    _refuse_deep_nesting(root)
    if schema_path is not None:
        errors = [
            str(e.reason or e.message)[:300] for e in load_schema(schema_path).iter_errors(root)
        ]
        if errors:
            raise CapDocumentError("The document is not valid CAP 1.2.", errors=errors[:10])
    return root


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


def _suspect(value: str) -> Any:
    """One ``tawny:suspect`` parameter's JSON. The decoder recurses once per nesting level and
    gives up with a RecursionError on a hostile document, which is the sender's error."""
    try:
        return json.loads(value)
    except RecursionError as error:
        raise CapDocumentError(f"A {PARAM_SUSPECT} parameter nests too deeply.") from error


def from_xml(data: bytes, *, schema_path: str | None = None) -> CapMessage:
    root = parse_xml(data, schema_path=schema_path)
    infos = root.findall(_q("info"))
    if not infos:
        raise CapDocumentError("Tawny needs at least one info block.")
    first = infos[0]
    for other in infos[1:]:
        if _classification(other) != _classification(first):
            raise CapDocumentError(
                "Every info block must share the first one's category, event, urgency, "
                "severity, certainty, expiry, contact, parameters and areas; only the "
                "language, headline, description and instruction may differ."
            )
    scope = _text(root, "scope")
    if scope == "Private":
        raise CapDocumentError("Tawny does not deliver Private (addressed) alerts.")
    parameters = _parameters(first)
    try:
        sent = datetime.fromisoformat(_required(root, "sent"))
        alert = AlertCreate.model_validate(
            {
                "headline": _text(first, "headline"),
                "body": _text(first, "description"),
                "instruction": _text(first, "instruction"),
                "web": _text(first, "web"),
                "contact": _text(first, "contact"),
                "language": _text(first, "language") or "en-US",
                "translations": [
                    {
                        "language": _text(info, "language") or "en-US",
                        "headline": _text(info, "headline"),
                        "description": _text(info, "description"),
                        "instruction": _text(info, "instruction"),
                    }
                    for info in infos[1:]
                ],
                "crime_type": _single(parameters, PARAM_CRIME_TYPE),
                "event": _text(first, "event"),
                "categories": [c.text for c in first.findall(_q("category"))],
                "response_types": [r.text for r in first.findall(_q("responseType"))],
                "severity": _text(first, "severity"),
                "urgency": _text(first, "urgency"),
                "certainty": _text(first, "certainty"),
                "cap_status": _required(root, "status"),
                "reference": _single(parameters, PARAM_REFERENCE, required=False),
                "audience": _single(parameters, PARAM_AUDIENCE, required=False) or "residents",
                "channels": (
                    _single(parameters, PARAM_CHANNELS, required=False) or "email"
                ).split(),
                "suspects": [_suspect(value) for value in parameters.get(PARAM_SUSPECT, [])],
                "expires": _text(first, "expires"),
                "no_victim_details_confirmed": _single(parameters, PARAM_NO_VICTIM_DETAILS)
                == CONFIRMED,
                **_areas(first),
            }
        )
        return CapMessage(
            identifier=_required(root, "identifier"),
            sender=_required(root, "sender"),
            sent=sent,
            status=CapStatus(_required(root, "status")),
            msg_type=MsgType(_required(root, "msgType")),
            references=tuple((_text(root, "references") or "").split()),
            alert=alert,
        )
    except ValidationError as error:
        raise CapDocumentError(
            "The CAP document does not make a valid Tawny alert.",
            errors=[
                {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"][:300]}
                for e in error.errors()[:10]
            ],
        ) from error
    except (ValueError, TypeError) as error:
        raise CapDocumentError(
            "The CAP document does not make a valid Tawny alert.", reason=str(error)[:300]
        ) from error


def _classification(info: ET.Element) -> bytes:
    comparable = ET.Element("info")
    for child in info:
        if child.tag not in {_q(n) for n in ("language", "headline", "description", "instruction")}:
            comparable.append(child)
    return ET.tostring(comparable)


def _text(parent: ET.Element, name: str) -> str | None:
    element = parent.find(_q(name))
    return element.text if element is not None and element.text is not None else None


def _required(parent: ET.Element, name: str) -> str:
    value = _text(parent, name)
    if value is None:
        raise CapDocumentError(f"The document has no {name}.")
    return value


def _parameters(info: ET.Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for parameter in info.findall(_q("parameter")):
        name, value = _text(parameter, "valueName"), _text(parameter, "value")
        if name is not None and value is not None:
            found.setdefault(name, []).append(value)
    return found


def _single(parameters: dict[str, list[str]], name: str, *, required: bool = True) -> str | None:
    values = parameters.get(name, [])
    if len(values) > 1:
        raise CapDocumentError(f"The parameter {name} appears more than once.")
    if not values:
        if required:
            raise CapDocumentError(f"Tawny needs the parameter {name}.")
        return None
    return values[0]


def _areas(info: ET.Element) -> dict[str, Any]:
    areas = info.findall(_q("area"))
    if not areas:
        raise CapDocumentError("Tawny needs an area with ONS ward or borough geocodes.")
    wards: list[str] = []
    boroughs: list[str] = []
    circles: list[dict[str, float]] = []
    polygons: list[list[list[float]]] = []
    descriptions: list[str] = []
    for area in areas:
        descriptions.append(_text(area, "areaDesc") or "")
        for polygon in area.findall(_q("polygon")):
            polygons.append(
                [[float(n) for n in pair.split(",")] for pair in (polygon.text or "").split()]
            )
        for circle in area.findall(_q("circle")):
            centre, radius = (circle.text or "").split()
            lat, lon = (float(n) for n in centre.split(","))
            circles.append({"lat": lat, "lon": lon, "radius_km": float(radius)})
        for geocode in area.findall(_q("geocode")):
            name, value = _text(geocode, "valueName"), _text(geocode, "value") or ""
            if name == WARD_GEOCODE:
                wards.append(value)
            elif name == BOROUGH_GEOCODE:
                boroughs.append(value)
            else:
                raise CapDocumentError(
                    f"Tawny targets by {WARD_GEOCODE} and {BOROUGH_GEOCODE} geocodes only.",
                    geocode=str(name)[:100],
                )
    return {
        "area_desc": "; ".join(d for d in descriptions if d)[:500] or None,
        "target_ward_codes": wards,
        "target_borough_codes": boroughs,
        "target_circles": circles,
        "target_polygons": polygons,
    }
