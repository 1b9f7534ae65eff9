"""Public feeds of live public alerts per borough and per ward, as Atom and as JSON Feed 1.1.
Each item is the alert's latest message (its last Update, if any) and links to its CAP."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from services.alerts.authoring.repository import AlertRepository
from services.alerts.cap.document import CAP_MEDIA_TYPE
from services.alerts.config import AlertsSettings
from services.alerts.dependencies import AlertsSettingsDep
from services.alerts.geography import geography_for
from services.alerts.images.repository import ImageRepository
from services.alerts.images.schemas import image_url
from services.alerts.models import Alert, AlertImage
from shared.db import utcnow
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/feeds", tags=["feeds"])

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"
JSON_FEED_MEDIA_TYPE = "application/feed+json"
FEED_SIZE = 100

WardCode = Annotated[
    str,
    Path(
        pattern=r"^[A-Z][0-9]{8}$",
        description="An ONS ward code",
        openapi_examples=openapi_examples(a_ward="E05013806"),
    ),
]
BoroughCode = Annotated[
    str,
    Path(
        pattern=r"^E09[0-9]{6}$",
        description="An ONS London borough code",
        openapi_examples=openapi_examples(camden="E09000007"),
    ),
]


@dataclass(frozen=True)
class FeedItem:
    original: Alert
    message: Alert
    images: Sequence[AlertImage] = ()


async def _items(
    session: SessionDep,
    settings: AlertsSettings,
    *,
    ward_code: str | None,
    borough_code: str | None,
) -> list[FeedItem]:
    """The live alerts touching the area, each with its latest message and its pictures."""
    repository = AlertRepository(session)
    originals = await repository.live_public(
        now=utcnow(),
        ward_code=ward_code,
        borough_code=borough_code,
        limit=FEED_SIZE,
        ward_borough_code=geography_for(settings).borough_of(ward_code) if ward_code else None,
    )
    ids = [alert.id for alert in originals]
    latest = await repository.latest_follow_ups(ids)
    images = await ImageRepository(session).of_alerts(ids)
    return [
        FeedItem(alert, latest.get(alert.id, alert), images.get(alert.id, ()))
        for alert in originals
    ]


def _cap_url(settings: AlertsSettings, message: Alert) -> str:
    return f"{settings.public_base_url}/alerts/{message.id}/cap"


def _iso(value: datetime | None) -> str:
    assert value is not None
    return value.isoformat()


def json_feed(
    settings: AlertsSettings, title: str, feed_url: str, items: Sequence[FeedItem]
) -> dict[str, Any]:
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "feed_url": feed_url,
        "authors": [{"name": settings.sender_name}],
        "items": [_json_item(settings, item) for item in items],
    }


def _json_item(settings: AlertsSettings, item: FeedItem) -> dict[str, Any]:
    original, message = item.original, item.message
    body: dict[str, Any] = {
        "id": f"urn:uuid:{original.id}",
        "url": _cap_url(settings, message),
        "title": message.headline,
        "content_text": message.body,
        "date_published": _iso(original.published_at),
        "date_modified": _iso(message.published_at),
        "tags": [original.crime_type.value],
        "_cap": {
            "identifier": message.identifier,
            "msg_type": message.msg_type.value,
            "severity": message.severity.value,
            "urgency": message.urgency.value,
            "certainty": message.certainty.value,
            "expires": _iso(message.expires),
            "instruction": message.instruction,
            "contact": message.contact,
            "web": message.web,
            "ward_codes": list(original.target_ward_codes),
            "borough_codes": list(original.target_borough_codes),
        },
    }
    if item.images:
        body["image"] = image_url(settings.public_base_url, item.images[0])
        body["attachments"] = [
            {
                "url": image_url(settings.public_base_url, image),
                "mime_type": image.mime_type,
                "title": image.description,
                "size_in_bytes": image.size_bytes,
            }
            for image in item.images
        ]
    return body


def atom_feed(
    settings: AlertsSettings, title: str, feed_url: str, items: Sequence[FeedItem]
) -> bytes:
    def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, name, attrs)
        if text is not None:
            element.text = text
        return element

    # Unqualified names under an xmlns attribute: Atom is this document's default namespace
    # without ElementTree.register_namespace, which would change it for every later document
    # the process writes (CAP included). (default_namespace= refuses Atom's plain attributes.)
    feed = ET.Element("feed", xmlns=ATOM_NS)
    sub(feed, "id", feed_url)
    sub(feed, "title", title)
    updated = max((_iso(i.message.published_at) for i in items), default=utcnow().isoformat())
    sub(feed, "updated", updated)
    sub(feed, "link", rel="self", href=feed_url)
    author = sub(feed, "author")
    sub(author, "name", settings.sender_name)
    for item in items:
        original, message = item.original, item.message
        entry = sub(feed, "entry")
        sub(entry, "id", f"urn:uuid:{original.id}")
        sub(entry, "title", message.headline)
        sub(entry, "published", _iso(original.published_at))
        sub(entry, "updated", _iso(message.published_at))
        sub(entry, "summary", message.body)
        sub(entry, "category", term=original.crime_type.value)
        sub(entry, "link", rel="alternate", type=CAP_MEDIA_TYPE, href=_cap_url(settings, message))
        for image in item.images:
            sub(
                entry,
                "link",
                rel="enclosure",
                type=image.mime_type,
                length=str(image.size_bytes),
                title=image.description,
                href=image_url(settings.public_base_url, image),
            )
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


FEED_RESPONSES = problem_responses(422)


@router.get(
    "/wards/{ward_code}.json",
    summary="Live public alerts for a ward (JSON Feed)",
    description="Anyone. Alerts touching the ward: by its code, by its whole borough, or by a "
    "circle or polygon over it (when ward boundaries are configured); each as its latest "
    "message.",
    responses={**FEED_RESPONSES, 200: {"content": {JSON_FEED_MEDIA_TYPE: {}}}},
)
async def ward_json(
    session: SessionDep, settings: AlertsSettingsDep, ward_code: WardCode
) -> Response:
    items = await _items(session, settings, ward_code=ward_code, borough_code=None)
    url = f"{settings.public_base_url}/feeds/wards/{ward_code}.json"
    return _json(json_feed(settings, f"Tawny alerts for ward {ward_code}", url, items))


@router.get(
    "/wards/{ward_code}.atom",
    summary="Live public alerts for a ward (Atom)",
    description="Anyone. Alerts touching the ward: by its code, by its whole borough, or by a "
    "circle or polygon over it (when ward boundaries are configured); each as its latest "
    "message.",
    responses={**FEED_RESPONSES, 200: {"content": {ATOM_MEDIA_TYPE: {}}}},
)
async def ward_atom(
    session: SessionDep, settings: AlertsSettingsDep, ward_code: WardCode
) -> Response:
    items = await _items(session, settings, ward_code=ward_code, borough_code=None)
    url = f"{settings.public_base_url}/feeds/wards/{ward_code}.atom"
    return Response(
        atom_feed(settings, f"Tawny alerts for ward {ward_code}", url, items),
        media_type=ATOM_MEDIA_TYPE,
    )


@router.get(
    "/boroughs/{borough_code}.json",
    summary="Live public alerts for a borough (JSON Feed)",
    description="Anyone. Alerts touching the borough: by its code, by a ward in it, or by a "
    "circle or polygon over it (when ward boundaries are configured).",
    responses={**FEED_RESPONSES, 200: {"content": {JSON_FEED_MEDIA_TYPE: {}}}},
)
async def borough_json(
    session: SessionDep, settings: AlertsSettingsDep, borough_code: BoroughCode
) -> Response:
    items = await _items(session, settings, ward_code=None, borough_code=borough_code)
    url = f"{settings.public_base_url}/feeds/boroughs/{borough_code}.json"
    return _json(json_feed(settings, f"Tawny alerts for borough {borough_code}", url, items))


@router.get(
    "/boroughs/{borough_code}.atom",
    summary="Live public alerts for a borough (Atom)",
    description="Anyone. Alerts touching the borough: by its code, by a ward in it, or by a "
    "circle or polygon over it (when ward boundaries are configured).",
    responses={**FEED_RESPONSES, 200: {"content": {ATOM_MEDIA_TYPE: {}}}},
)
async def borough_atom(
    session: SessionDep, settings: AlertsSettingsDep, borough_code: BoroughCode
) -> Response:
    items = await _items(session, settings, ward_code=None, borough_code=borough_code)
    url = f"{settings.public_base_url}/feeds/boroughs/{borough_code}.atom"
    return Response(
        atom_feed(settings, f"Tawny alerts for borough {borough_code}", url, items),
        media_type=ATOM_MEDIA_TYPE,
    )


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), media_type=JSON_FEED_MEDIA_TYPE)
