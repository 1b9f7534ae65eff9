"""The mapping from an alert's CAP message to the event geo resolves: ``alert.published``
for a publication, an Update or a Cancel, and ``alert.targeting_retry_requested`` when an
officer asks geo to resolve the target again (``targeting.service``)."""

from __future__ import annotations

from services.alerts.models import Alert
from shared.events import (
    AlertContent,
    AlertPublished,
    AlertTranslation,
    TargetCircle,
    TargetPolygon,
)

PRODUCER = "alerts"


def published_event(
    message: Alert,
    *,
    original: Alert | None,
    sender_name: str,
    event: type[AlertPublished] = AlertPublished,
) -> AlertPublished:
    """What geo resolves for ``message``: its content and (for an Update or Cancel, the
    original's) target. ``event`` is AlertPublished, or TargetingRetryRequested for a retry."""
    assert message.sent is not None
    target = original or message
    return event(
        content=AlertContent(
            alert_id=message.id,
            msg_type=message.msg_type.value,
            headline=message.headline,
            body=message.body,
            category=message.crime_type.value,
            severity=message.severity.value,
            urgency=message.urgency.value,
            sender_name=sender_name,
            sent_at=message.sent,
            references=original.id if original else None,
            instruction=message.instruction,
            contact=message.contact,
            web=message.web,
            expires=message.expires,
            language=message.language,
            translations=[
                AlertTranslation(
                    language=t["language"],
                    headline=t["headline"],
                    body=t["description"],
                    instruction=t.get("instruction"),
                )
                for t in message.translations
            ],
        ),
        target_ward_codes=list(target.target_ward_codes),
        target_borough_codes=list(target.target_borough_codes),
        target_circles=[
            TargetCircle(lat=c["lat"], lon=c["lon"], radius_m=c["radius_km"] * 1000)
            for c in target.target_circles
        ],
        target_polygons=[
            TargetPolygon(coordinates=[[[lon, lat] for lat, lon in ring]])
            for ring in target.target_polygons
        ],
    )
