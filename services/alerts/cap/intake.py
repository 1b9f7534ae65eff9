"""What a received CAP message means for Tawny: whether its area is London's, what it targets,
what crime type it is, and the alert it becomes.

- **Coverage.** Tawny serves Greater London. An area is resolved from ``ONS_WARD`` and
  ``ONS_BOROUGH`` geocodes and from circles and polygons; geocodes of other schemes (SAME,
  UGC, FIPS6, ...) name places Tawny cannot resolve and are left aside. When nothing is left
  inside London, the message is refused with 422 ``cap-area-outside-coverage`` (the OASIS
  Amber Alert example, whose area is a Los Angeles SAME code, and every US weather message).
- **Shapes alone.** A circle or polygon with no ward or borough code targets the wards it
  touches (``ALERTS_WARDS_GEOJSON``), which the approving officer sees; the shapes are kept.
- **Crime type.** ``tawny:crimeType`` when given; otherwise derived (``crime_types``) and
  marked for the officer to check before approval.
- **Tawny's parameters** (``tawny:…``) are optional. A message without
  ``tawny:noVictimDetails`` is the sending organisation's public message and is reviewed by an
  officer before anyone receives it (a client's CAP is always submitted for approval); one
  that says anything but ``confirmed`` is refused.
- Every field Tawny cannot keep is a 4xx whose ``element`` names it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from services.alerts.authoring.schemas import AlertCreate
from services.alerts.cap.crime_types import derive_crime_type
from services.alerts.cap.document import (
    CONFIRMED,
    PARAM_AUDIENCE,
    PARAM_CHANNELS,
    PARAM_CRIME_TYPE,
    PARAM_NO_VICTIM_DETAILS,
    PARAM_REFERENCE,
    PARAM_SUSPECT,
    CapMessage,
)
from services.alerts.cap.reading import ReceivedArea, ReceivedMessage, read_message
from services.alerts.errors import CapAreaOutsideCoverageError, CapDocumentError
from services.alerts.geography import Geography

COVERAGE = "Greater London"
# pydantic's field names as the CAP elements they were read from.
ELEMENTS: dict[str, str] = {
    "headline": "headline",
    "body": "description",
    "instruction": "instruction",
    "web": "web",
    "contact": "contact",
    "language": "language",
    "event": "event",
    "categories": "category",
    "severity": "severity",
    "urgency": "urgency",
    "certainty": "certainty",
    "response_types": "responseType",
    "expires": "expires",
    "area_desc": "area/areaDesc",
    "description": "description",
    "target_ward_codes": "area/geocode[valueName=ONS_WARD]",
    "target_borough_codes": "area/geocode[valueName=ONS_BOROUGH]",
    "target_circles": "area/circle",
    "target_polygons": "area/polygon",
    "crime_type": f"parameter[valueName={PARAM_CRIME_TYPE}]",
    "reference": f"parameter[valueName={PARAM_REFERENCE}]",
    "audience": f"parameter[valueName={PARAM_AUDIENCE}]",
    "channels": f"parameter[valueName={PARAM_CHANNELS}]",
    "suspects": f"parameter[valueName={PARAM_SUSPECT}]",
    "no_victim_details_confirmed": f"parameter[valueName={PARAM_NO_VICTIM_DETAILS}]",
}


def read_cap(
    data: bytes, *, schema_path: str | None = None, geography: Geography | None = None
) -> CapMessage:
    """A CAP document read, checked and understood: the alert it asks for. Without a
    geography, shapes are checked against London's box only and cannot stand alone."""
    return to_cap_message(
        read_message(data, schema_path=schema_path), geography or Geography(ward_boroughs={})
    )


def to_cap_message(message: ReceivedMessage, geography: Geography) -> CapMessage:
    """The Tawny alert the message asks for (see the module)."""
    target = _target(message.area, geography)
    parameters = message.parameters
    explicit = _single(parameters, PARAM_CRIME_TYPE)
    first = message.blocks[0]
    crime_type = explicit or derive_crime_type(
        categories=message.categories, event=first.event, event_codes=message.event_codes
    )
    no_victim_details = _single(parameters, PARAM_NO_VICTIM_DETAILS)
    if no_victim_details is not None and no_victim_details != CONFIRMED:
        raise CapDocumentError(
            f"{PARAM_NO_VICTIM_DETAILS} must be '{CONFIRMED}' when given: Tawny publishes no "
            "alert carrying a victim's personal details.",
            element=f"alert/info[1]/{ELEMENTS['no_victim_details_confirmed']}",
        )
    fields: dict[str, Any] = {
        "headline": first.headline,
        "body": first.description,
        "instruction": first.instruction,
        "web": first.web,
        "contact": first.contact,
        "language": first.language,
        "translations": [
            {
                "language": block.language,
                "headline": block.headline,
                "description": block.description,
                "instruction": block.instruction,
                "event": _differs(block.event, first.event),
                "area_desc": _differs(block.area_desc, first.area_desc),
                "contact": _differs(block.contact, first.contact),
                "web": _differs(block.web, first.web),
            }
            for block in message.blocks[1:]
        ],
        "crime_type": crime_type,
        "event": first.event,
        "categories": message.categories,
        "response_types": message.response_types,
        "severity": message.severity,
        "urgency": message.urgency,
        "certainty": message.certainty,
        "cap_status": message.status,
        "reference": _single(parameters, PARAM_REFERENCE),
        "audience": _single(parameters, PARAM_AUDIENCE) or "residents",
        "channels": (_single(parameters, PARAM_CHANNELS) or "email").split(),
        "suspects": [_suspect(value) for value in parameters.get(PARAM_SUSPECT, [])],
        "expires": message.expires,
        "no_victim_details_confirmed": True,
        "area_desc": first.area_desc,
        **target,
    }
    try:
        alert = AlertCreate.model_validate(fields)
    except ValidationError as error:
        problems = [_problem(e, message) for e in error.errors()[:10]]
        raise CapDocumentError(
            f"The CAP message does not make an alert Tawny can keep: {problems[0]['element']}: "
            f"{problems[0]['msg']}",
            element=problems[0]["element"],
            errors=problems,
        ) from error
    return CapMessage(
        identifier=message.identifier,
        sender=message.sender,
        sent=message.sent,
        status=message.status,
        msg_type=message.msg_type,
        references=message.references,
        alert=alert,
        crime_type_derived=explicit is None,
    )


def _target(area: ReceivedArea, geography: Geography) -> dict[str, Any]:
    """The target's codes and shapes, after checking the area is London's."""
    boundaries = geography.target_boundaries
    has_codes = bool(area.ward_codes or area.borough_codes)
    shapes_in_london = [
        path
        for path, points in (
            *zip(area.circle_paths, ([[c["lat"], c["lon"]]] for c in area.circles), strict=True),
            *zip(area.polygon_paths, area.polygons, strict=True),
        )
        if any(boundaries.in_london(lat, lon) for lat, lon in points)
    ]
    if not has_codes and not shapes_in_london:
        _outside(area)
    ward_codes = list(area.ward_codes)
    if not has_codes:
        if geography.boundaries is None:
            raise CapAreaOutsideCoverageError(
                "This area is only circles and polygons, and Tawny has no ward boundaries "
                "loaded to find the wards they touch: add ONS_WARD or ONS_BOROUGH geocodes.",
                element="alert/info[1]/area",
            )
        touched = geography.touched(
            ward_codes=(), borough_codes=(), circles=area.circles, polygons=area.polygons
        )
        if not touched.ward_codes:
            _outside(area)
        ward_codes = sorted(touched.ward_codes)
    return {
        "target_ward_codes": ward_codes,
        "target_borough_codes": list(area.borough_codes),
        "target_circles": area.circles,
        "target_polygons": area.polygons,
    }


def _outside(area: ReceivedArea) -> None:
    described = "; ".join(d for d in area.descriptions if d)[:200] or "this area"
    raise CapAreaOutsideCoverageError(
        f"The message's area ({described}) is outside the platform's coverage: Tawny serves "
        f"{COVERAGE}. It reads ONS_WARD and ONS_BOROUGH geocodes and circles or polygons "
        "inside London.",
        element="alert/info[1]/area",
        coverage=COVERAGE,
        unresolved_geocodes=[f"{name} {value}" for name, value in area.foreign_geocodes[:20]],
    )


def _differs(value: str | None, first: str | None) -> str | None:
    """A translation's own wording, kept only where it says something else."""
    return value if value is not None and value != first else None


def _single(parameters: dict[str, list[str]], name: str) -> str | None:
    values = parameters.get(name, [])
    if len(values) > 1:
        raise CapDocumentError(
            f"The parameter {name} appears more than once.",
            element=f"alert/info[1]/parameter[valueName={name}]",
        )
    return values[0] if values else None


def _suspect(value: str) -> Any:
    """One ``tawny:suspect`` parameter's JSON. The decoder recurses once per nesting level and
    gives up with a RecursionError on a hostile document, which is the sender's error."""
    element = f"alert/info[1]/parameter[valueName={PARAM_SUSPECT}]"
    try:
        return json.loads(value)
    except RecursionError as error:
        raise CapDocumentError(
            f"A {PARAM_SUSPECT} parameter nests too deeply.", element=element
        ) from error
    except ValueError as error:
        raise CapDocumentError(
            f"A {PARAM_SUSPECT} parameter is not JSON.", element=element
        ) from error


def _problem(error: Any, message: ReceivedMessage) -> dict[str, str]:
    """One pydantic error as the CAP element it came from."""
    location = [str(p) for p in error["loc"]]
    if location and location[0] == "translations" and len(location) > 2:
        block = int(location[1]) + 2
        name = location[2]
        element = f"alert/info[{block}]/{ELEMENTS.get(name, name)}"
    elif location and location[0] == "cap_status":
        element = "alert/status"
    elif location:
        element = f"alert/info[1]/{ELEMENTS.get(location[0], location[0])}"
    else:
        element = "alert/info[1]"
    return {"element": element, "msg": str(error["msg"])[:300]}
