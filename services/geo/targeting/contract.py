"""Geo's side of the targeting contract (``shared.targeting``): which parts of a published
alert's target geo can use, and the report of what it could not.

Alerts refuses a bad target before publishing, so a part geo cannot use means something
changed in between (a boundary set without a ward alerts still knows, a bug). Geo never drops
the whole alert for it: the usable parts are resolved and delivered, and every unusable part
is reported to alerts in ``audience.resolved`` (which the officer and the console see, and
from which the officer can ask for a retry once it is fixed), logged and counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.errors import InvalidAreaError
from services.geo.models import AlertAudience, OutboxMessage
from services.geo.targeting import shapes
from services.geo.targeting.wardmap import WardMap
from shared import targeting
from shared.db import utcnow
from shared.events import AlertPublished, AudienceResolved, TargetPartFailure
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

PRODUCER = "geo"

TARGET_PARTS_UNUSABLE = Counter(
    "tawny_geo_target_parts_unusable_total",
    "Parts of published alerts' targets that geo could not resolve (their alert still went "
    "to the usable parts, and alerts was told)",
    ["reason"],
)


def boundaries_of(ward_map: WardMap | None) -> targeting.Boundaries:
    """The contract's view of the current boundary set. Geo checks Greater London by the
    contract's box (alerts, the gate, checks the finer outline), so geo never refuses a point
    alerts accepted."""
    if ward_map is None:
        return targeting.Boundaries()
    return targeting.Boundaries(
        ward_codes=frozenset(w.code for w in ward_map.wards),
        borough_codes=frozenset(b.code for b in ward_map.boroughs),
    )


def contract_target(alert: AlertPublished) -> targeting.Target:
    """The event's target in the contract's terms: GeoJSON [longitude, latitude] rings become
    (latitude, longitude) points; a polygon's outer ring is what the contract checks."""
    return targeting.Target(
        ward_codes=alert.target_ward_codes,
        borough_codes=alert.target_borough_codes,
        circles=[targeting.TargetCircle(c.lat, c.lon, c.radius_m) for c in alert.target_circles],
        polygons=[
            targeting.TargetPolygon(lat_lon_ring(poly.coordinates))
            for poly in alert.target_polygons
        ],
    )


def lat_lon_ring(coordinates: Sequence[Sequence[Sequence[float]]]) -> list[list[float]]:
    """A GeoJSON polygon's outer ring as [latitude, longitude] points (a malformed position
    is kept as it is, for the contract to refuse)."""
    ring = coordinates[0] if coordinates else []
    return [[p[1], p[0]] if len(p) >= 2 else list(p) for p in ring]


@dataclass(frozen=True)
class CheckedTarget:
    """The alert with only the parts geo can resolve, and what was wrong with the others."""

    alert: AlertPublished
    problems: Sequence[targeting.TargetProblem]


def usable_parts(alert: AlertPublished, ward_map: WardMap | None) -> CheckedTarget:
    """Drop every circle or polygon that breaks the contract or that geo's own shape checks
    refuse. Unknown ward and borough codes are reported but kept: they reach whoever still
    watches those codes, and harm nobody."""
    problems = targeting.check_target(
        contract_target(alert), boundaries_of(ward_map), names=targeting.ALERT_FIELDS
    )
    bad = {p.part for p in problems}
    circles = []
    for index, circle in enumerate(alert.target_circles):
        part = f"{targeting.ALERT_FIELDS.circles}[{index}]"
        if part in bad:
            continue
        try:
            shapes.check_circle(
                circle.lat,
                circle.lon,
                circle.radius_m,
                min_radius_m=targeting.MIN_CIRCLE_RADIUS_M,
                max_radius_m=targeting.MAX_CIRCLE_RADIUS_M,
            )
        except InvalidAreaError as error:
            problems.append(_refused_by_geo(part, error))
            continue
        circles.append(circle)
    polygons = []
    for index, polygon in enumerate(alert.target_polygons):
        part = f"{targeting.ALERT_FIELDS.polygons}[{index}]"
        if part in bad:
            continue
        try:
            shapes.check_polygon(
                {"type": "Polygon", "coordinates": polygon.coordinates},
                max_vertices=targeting.MAX_POLYGON_VERTICES,
                max_area_km2=targeting.MAX_POLYGON_AREA_KM2,
            )
        except InvalidAreaError as error:
            problems.append(_refused_by_geo(part, error))
            continue
        polygons.append(polygon)
    usable = alert.model_copy(update={"target_circles": circles, "target_polygons": polygons})
    return CheckedTarget(alert=usable, problems=problems)


def _refused_by_geo(part: str, error: InvalidAreaError) -> targeting.TargetProblem:
    reason = str(error.extensions.get("reason", "invalid-area"))
    return targeting.TargetProblem(part, part, reason, f"{part}: {error.detail}")


class TargetingReportService:
    """Tells alerts how resolving a published alert's target went."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def report(
        self,
        *,
        event_id: uuid.UUID,
        alert: AlertPublished,
        audience: AlertAudience,
        problems: Sequence[targeting.TargetProblem],
    ) -> None:
        """Stage ``audience.resolved`` in the outbox, in the resolution's own transaction."""
        alert_id = alert.content.alert_id
        await add_event(
            self._session,
            OutboxMessage,
            AudienceResolved(
                alert_id=alert_id,
                event_id=event_id,
                resolved_at=utcnow(),
                recipients=audience.recipient_count,
                failures=[TargetPartFailure(**p.as_dict()) for p in problems],
            ),
            producer=PRODUCER,
        )
        for problem in problems:
            TARGET_PARTS_UNUSABLE.labels(reason=problem.reason).inc()
            log.warning(
                "geo.audience.target_part_unusable",
                alert_id=str(alert_id),
                event_id=str(event_id),
                part=problem.part,
                field=problem.field,
                reason=problem.reason,
                detail=problem.detail,
            )


def refuse_unusable_preview(target: targeting.Target) -> None:
    """The audience preview's check: the first problem is a 422 naming the field. Codes are
    checked by the preview itself, against the boundary set it resolves with."""
    problems = targeting.check_target(
        target, targeting.Boundaries(), names=targeting.PREVIEW_FIELDS
    )
    if problems:
        first = problems[0]
        raise InvalidAreaError(
            first.detail,
            reason=first.reason,
            field=first.field,
            problems=[p.as_dict() for p in problems],
        )
