"""The public feeds' documents: Atom and JSON Feed 1.1. Each item is an alert's latest message
and links to its CAP."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.alerts.cap.document import CAP_MEDIA_TYPE
from services.alerts.config import AlertsSettings
from services.alerts.feeds.service import FeedItem
from services.alerts.images.schemas import image_url
from services.alerts.models import Alert
from shared.db import utcnow

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"
JSON_FEED_MEDIA_TYPE = "application/feed+json"


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
