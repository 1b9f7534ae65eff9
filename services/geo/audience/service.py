"""Resolving an alert's audience: every member with a watched area that intersects the target
and whose filters pass, once each.

Two paths, merged:

* the ward path (``watched_wards``): the wards a target names (directly or through a
  borough) and the wards a drawn target touches (exact, against the ward polygons in
  memory). Ward, home and neighbours subscriptions match any of them; circles and polygons
  only the named ones, since touching the same ward as a drawn target is not intersecting it.
  Answered in SQL, packed on the server.
* the cell path (``area_cells``), only for drawn targets: watched circles and polygons whose
  H3 cover shares a cell with the target's; certain where both cells are interior, otherwise
  tested exactly with shapely (vectorised) in a local metric projection.

The recipient set (sorted, 16 bytes a member) is stored per alert, so that an Update or
Cancel of an alert already resolved reaches exactly the same people without resolving again,
even if subscriptions or boundaries changed meanwhile.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.audience import repository
from services.geo.audience.schemas import AudiencePreview, AudienceTarget, WardCount
from services.geo.boundaries import repository as boundaries
from services.geo.boundaries.service import load_ward_map
from services.geo.config import GeoSettings
from services.geo.errors import UnknownBoroughError, UnknownWardError
from services.geo.models import AlertAudience, OutboxMessage
from services.geo.targeting.cells import TargetCells, circle_cover, polygon_cover
from services.geo.targeting.filters import category_bit, severity_rank
from services.geo.targeting.shapes import TargetShapes, check_circle, check_polygon
from services.geo.targeting.wardmap import WardMap
from shared import targeting
from shared.events import AlertPublished, RecipientBatch
from shared.logs import get_logger
from shared.outbox import add_events

log = get_logger(__name__)

PRODUCER = "geo"
FOLLOW_UP_MSG_TYPES = ("Update", "Cancel")
ID_BYTES = 16
# Recipient batches staged per INSERT: a London-wide alert has ~2,000 of ~20 KB each, and
# holding 100 at a time bounds the memory a fan-out needs.
OUTBOX_INSERT_BATCHES = 100
_PACKED = np.dtype("S16")

# Category bit and severity rank that every filter passes: for a preview without them.
ANY_CATEGORY = -1
ANY_SEVERITY = 4


@dataclass(frozen=True)
class TargetLimits:
    """An alert target's limits: the targeting contract's (``shared.targeting``), the same as
    alerts checks before publishing, never geo's own settings (those are for watched areas)."""

    min_radius_m: float = targeting.MIN_CIRCLE_RADIUS_M
    max_radius_m: float = targeting.MAX_CIRCLE_RADIUS_M
    max_vertices: int = targeting.MAX_POLYGON_VERTICES
    max_area_km2: float = targeting.MAX_POLYGON_AREA_KM2

    @classmethod
    def of(cls, settings: GeoSettings) -> TargetLimits:
        return cls()


@dataclass(frozen=True)
class Target:
    ward_codes: tuple[str, ...] = ()
    borough_codes: tuple[str, ...] = ()
    shapes: TargetShapes = field(default_factory=TargetShapes)

    @classmethod
    def build(
        cls,
        *,
        ward_codes: list[str],
        borough_codes: list[str],
        circles: list[tuple[float, float, float]],
        polygons: list[list[list[list[float]]]],
        limits: TargetLimits,
    ) -> Target:
        """Check every circle and polygon; raises InvalidAreaError (422) on the first bad one."""
        return cls(
            tuple(dict.fromkeys(ward_codes)),
            tuple(dict.fromkeys(borough_codes)),
            TargetShapes(
                circles=[
                    check_circle(
                        lat,
                        lon,
                        r,
                        min_radius_m=limits.min_radius_m,
                        max_radius_m=limits.max_radius_m,
                    )
                    for lat, lon, r in circles
                ],
                polygons=[
                    check_polygon(
                        {"type": "Polygon", "coordinates": coordinates},
                        max_vertices=limits.max_vertices,
                        max_area_km2=limits.max_area_km2,
                    )
                    for coordinates in polygons
                ],
            ),
        )

    @classmethod
    def of_alert(cls, alert: AlertPublished, limits: TargetLimits) -> Target:
        return cls.build(
            ward_codes=alert.target_ward_codes,
            borough_codes=alert.target_borough_codes,
            circles=[(c.lat, c.lon, c.radius_m) for c in alert.target_circles],
            polygons=[p.coordinates for p in alert.target_polygons],
            limits=limits,
        )

    @classmethod
    def of_request(cls, target: AudienceTarget, limits: TargetLimits) -> Target:
        return cls.build(
            ward_codes=target.ward_codes,
            borough_codes=target.borough_codes,
            circles=[(c.lat, c.lon, c.radius_m) for c in target.circles],
            polygons=[p.coordinates for p in target.polygons],
            limits=limits,
        )


@dataclass
class Resolution:
    packed: bytes  # sorted member ids, 16 bytes each
    boundary_set_id: uuid.UUID | None
    named_wards: list[str]
    wards: list[str]
    matched_areas: list[uuid.UUID]
    timings_ms: dict[str, float]

    @property
    def count(self) -> int:
        return len(self.packed) // ID_BYTES


async def resolve(session: AsyncSession, target: Target, *, rank: int, bit: int) -> Resolution:
    """The distinct members ``target`` reaches for an alert of severity ``rank`` and category
    ``bit`` (see services.geo.targeting.filters)."""
    clock = _Clock()
    set_id = await boundaries.current_set_id(session)
    ward_map = await load_ward_map(session, set_id) if set_id is not None else None
    named = set(target.ward_codes)
    touched: list[str] = []
    if ward_map is not None:
        for borough in target.borough_codes:
            named.update(ward_map.wards_of_borough(borough))
        if target.shapes:
            touched = ward_map.wards_touching(target.shapes)
    wards = sorted(named.union(touched))
    clock.lap("wards")
    _, ward_packed = await repository.ward_path_members(
        session, wards=wards, named=sorted(named), rank=rank, category_bit=bit
    )
    clock.lap("ward_path")
    members = np.frombuffer(ward_packed, dtype=_PACKED)
    matched: list[uuid.UUID] = []
    if target.shapes:
        extra, matched = await _cell_path(session, target.shapes, rank=rank, bit=bit, clock=clock)
        if len(extra):
            members = np.union1d(members, extra)
    return Resolution(
        packed=members.tobytes(),
        boundary_set_id=set_id,
        named_wards=sorted(named),
        wards=wards,
        matched_areas=matched,
        timings_ms=clock.laps,
    )


async def _cell_path(
    session: AsyncSession, shapes: TargetShapes, *, rank: int, bit: int, clock: _Clock
) -> tuple[npt.NDArray[np.bytes_], list[uuid.UUID]]:
    covers = [circle_cover(c) for c in shapes.circles] + [polygon_cover(p) for p in shapes.polygons]
    rows = await repository.cell_candidates(
        session, TargetCells.of(covers), rank=rank, category_bit=bit
    )
    clock.lap("cell_candidates")
    sure = [row for row in rows if row.sure]
    unsure = [row for row in rows if not row.sure]
    shapes_of = await repository.areas(session, [row.subscription_id for row in unsure])
    circles = [r for r in unsure if shapes_of[r.subscription_id].kind == "circle"]
    polygons = [r for r in unsure if shapes_of[r.subscription_id].kind == "polygon"]
    circle_areas = [shapes_of[r.subscription_id] for r in circles]
    hit_circles = shapes.hits_circles(
        [a.center_lat for a in circle_areas],
        [a.center_lon for a in circle_areas],
        [a.radius_m for a in circle_areas],
    )
    hit_polygons = shapes.hits_geometries(
        [shape(shapes_of[r.subscription_id].geometry) for r in polygons]
    )
    passed = [
        *sure,
        *(r for r, hit in zip(circles, hit_circles, strict=True) if hit),
        *(r for r, hit in zip(polygons, hit_polygons, strict=True) if hit),
    ]
    clock.lap("exact_tests")
    ids = np.array([r.member_id.bytes for r in passed], dtype=_PACKED)
    log.debug(
        "geo.audience.cells",
        candidates=len(rows),
        certain=len(sure),
        tested=len(circles) + len(polygons),
        passed=len(passed),
    )
    return np.unique(ids), [uuid.UUID(str(r.subscription_id)) for r in passed]


async def resolve_audience(
    session: AsyncSession,
    event_id: uuid.UUID,
    alert: AlertPublished,
    *,
    batch_size: int,
    limits: TargetLimits | None = None,
) -> AlertAudience:
    """Stage one RecipientBatch per ``batch_size`` members (in member-id order) and record
    the resolution. An Update or Cancel of an alert resolved before (named by the content's
    ``references``, the original message's id) goes to its stored recipients; anything else is
    resolved (and its recipients stored, replacing any earlier set of the same alert).

    Raises InvalidAreaError for a target circle or polygon that cannot be used. Idempotence on
    redelivery is the consumer's (processed_events), since this runs in its transaction."""
    started = time.perf_counter()
    alert_id = alert.content.alert_id
    stored = None
    if alert.content.msg_type in FOLLOW_UP_MSG_TYPES:
        # A CAP Update or Cancel is a message of its own that references the original alert;
        # it goes to the people the original reached, whoever watches the target now.
        stored = await repository.recipient_set(session, alert.content.references or alert_id)
    if stored is not None:
        packed, set_id, timings = stored.members, stored.boundary_set_id, {}
    else:
        target = Target.of_alert(alert, limits or TargetLimits())
        resolution = await resolve(
            session,
            target,
            rank=severity_rank(alert.content.severity),
            bit=category_bit(alert.content.category),
        )
        packed, set_id, timings = (
            resolution.packed,
            resolution.boundary_set_id,
            resolution.timings_ms,
        )
        await repository.save_recipient_set(
            session,
            alert_id=alert_id,
            boundary_set_id=set_id,
            members=packed,
            recipient_count=resolution.count,
        )
    resolve_ms = round((time.perf_counter() - started) * 1000, 3)
    recipients = len(packed) // ID_BYTES
    batches = 0
    step = batch_size * ID_BYTES
    staged: list[RecipientBatch] = []
    for offset in range(0, len(packed), step):
        chunk = packed[offset : offset + step]
        member_ids = [
            uuid.UUID(bytes=chunk[i : i + ID_BYTES]) for i in range(0, len(chunk), ID_BYTES)
        ]
        staged.append(
            RecipientBatch(content=alert.content, batch_number=batches, member_ids=member_ids)
        )
        batches += 1
        if len(staged) == OUTBOX_INSERT_BATCHES:
            await add_events(session, OutboxMessage, staged, producer=PRODUCER)
            staged = []
    await add_events(session, OutboxMessage, staged, producer=PRODUCER)
    audience = AlertAudience(
        alert_id=alert_id,
        event_id=event_id,
        msg_type=alert.content.msg_type[:16],
        boundary_set_id=set_id,
        reused_recipient_set=stored is not None,
        recipient_count=recipients,
        batch_count=batches,
        resolve_ms=resolve_ms,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    await repository.add_audience(session, audience)
    log.info(
        "geo.audience.resolved",
        alert_id=str(alert_id),
        event_id=str(event_id),
        msg_type=alert.content.msg_type,
        reused=stored is not None,
        boundary_set_id=str(set_id) if set_id else None,
        recipients=recipients,
        batches=batches,
        resolve_ms=resolve_ms,
        duration_ms=audience.duration_ms,
        **{f"{step_name}_ms": ms for step_name, ms in timings.items()},
    )
    return audience


async def preview(
    session: AsyncSession,
    target: Target,
    *,
    category: str | None,
    severity: str | None,
) -> AudiencePreview:
    """What publishing would reach now: the count (exactly as resolution would find it) and
    a per-ward breakdown. Stores nothing."""
    started = time.perf_counter()
    set_id = await boundaries.current_set_id(session)
    ward_map = await load_ward_map(session, set_id) if set_id is not None else None
    _check_codes(target, ward_map)
    rank = severity_rank(severity) if severity else ANY_SEVERITY
    bit = category_bit(category) if category else ANY_CATEGORY
    resolution = await resolve(session, target, rank=rank, bit=bit)
    counts = await repository.ward_breakdown(
        session,
        wards=resolution.wards,
        named=resolution.named_wards,
        matched=resolution.matched_areas,
        rank=rank,
        category_bit=bit,
    )
    wards = []
    for code in resolution.wards:
        place = ward_map.ward(code) if ward_map else None
        wards.append(
            WardCount(
                code=code,
                name=place.name if place else None,
                borough_code=place.borough_code if place else None,
                recipients=counts.get(code, 0),
            )
        )
    return AudiencePreview(
        recipients=resolution.count,
        wards=wards,
        boundary_set_id=resolution.boundary_set_id,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _check_codes(target: Target, ward_map: WardMap | None) -> None:
    for code in target.ward_codes:
        if ward_map is None or ward_map.ward(code) is None:
            raise UnknownWardError(code)
    for code in target.borough_codes:
        if ward_map is None or ward_map.borough(code) is None:
            raise UnknownBoroughError(code)


class _Clock:
    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round((now - self._last) * 1000, 3)
        self._last = now
