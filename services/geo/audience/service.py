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

import json
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncSession

from services.geo.audience import members
from services.geo.audience.members import ID_BYTES
from services.geo.audience.repository import AudienceRepository
from services.geo.audience.schemas import AudiencePreview, AudienceTarget, WardCount
from services.geo.boundaries.service import BoundaryService
from services.geo.config import GeoSettings
from services.geo.errors import UnknownBoroughError, UnknownWardError
from services.geo.members.service import MemberLifecycleService, without_numbers
from services.geo.models import AlertAudience
from services.geo.targeting.cells import TargetCells, circle_cover, polygon_cover
from services.geo.targeting.filters import category_bit, severity_rank
from services.geo.targeting.shapes import TargetShapes, check_circle, check_polygon
from services.geo.targeting.wardmap import WardMap
from shared import targeting
from shared.events import AlertPublished, EventEnvelope, RecipientBatch
from shared.logs import get_logger, request_id_var

log = get_logger(__name__)

PRODUCER = "geo"
FOLLOW_UP_MSG_TYPES = ("Update", "Cancel")
# Recipient batches staged per INSERT: a London-wide alert has ~2,000 of ~20 KB each, and
# holding 100 at a time bounds the memory a fan-out needs.
OUTBOX_INSERT_BATCHES = 100
# Where a batch's member ids go in its serialised envelope (a JSON string value cannot
# contain this unescaped key-and-value text, so the split is unambiguous).
_MEMBER_IDS_MARK = "\x00member-ids\x00"
_MEMBER_IDS_JSON = '"member_ids": "\\u0000member-ids\\u0000"'
# 8-4-4-4-12: hex digit ranges and where each group starts in the text.
_HEX_GROUPS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
_TEXT_GROUPS = (0, 9, 14, 19, 24)

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


@dataclass(frozen=True)
class FanOut:
    audience: AlertAudience
    timings_ms: dict[str, float]  # each step of the fan-out, and of resolution within it


def uuid_texts(packed: bytes) -> npt.NDArray[np.bytes_]:
    """The canonical text (8-4-4-4-12 lower-case hex) of each 16-byte id in ``packed``."""
    hexed = np.frombuffer(packed.hex().encode(), dtype=np.uint8).reshape(-1, 2 * ID_BYTES)
    out = np.full((len(hexed), 36), ord("-"), dtype=np.uint8)
    for (src_start, src_end), dst_start in zip(_HEX_GROUPS, _TEXT_GROUPS, strict=True):
        out[:, dst_start : dst_start + src_end - src_start] = hexed[:, src_start:src_end]
    return out.view("S36").ravel()


class AudienceService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._audience = AudienceRepository(session)
        self._boundaries = BoundaryService(session)
        self._members = MemberLifecycleService(session)

    async def resolve(self, target: Target, *, rank: int, bit: int) -> Resolution:
        """The distinct members ``target`` reaches for an alert of severity ``rank`` and category
        ``bit`` (see services.geo.targeting.filters)."""
        clock = _Clock()
        set_id, _, named, wards = await self._target_wards(target)
        clock.lap("wards")
        touched = sorted(set(wards) - named)
        ward_numbers = await self._audience.ward_path_numbers(
            named=sorted(named), touched=touched, rank=rank, category_bit=bit
        )
        clock.lap("ward_path")
        matched: list[uuid.UUID] = []
        cell_numbers = b""
        if target.shapes:
            cell_numbers, matched = await self._cell_path(
                target.shapes, rank=rank, bit=bit, clock=clock
            )
        numbers = members.unique_numbers(ward_numbers, cell_numbers)
        clock.lap("distinct")
        packed = await members.packed_ids(self._audience, self._database_name(), numbers)
        clock.lap("member_ids")
        return Resolution(
            packed=packed,
            boundary_set_id=set_id,
            named_wards=sorted(named),
            wards=wards,
            matched_areas=matched,
            timings_ms=clock.laps,
        )

    async def _target_wards(
        self, target: Target
    ) -> tuple[uuid.UUID | None, WardMap | None, set[str], list[str]]:
        """(boundary set, its ward map, the wards named by code or borough, every ward named or
        touched by a drawn shape)."""
        ward_map = await self._boundaries.current_ward_map_or_none()
        set_id = ward_map.set_id if ward_map is not None else None
        named = set(target.ward_codes)
        touched: list[str] = []
        if ward_map is not None:
            for borough in target.borough_codes:
                named.update(ward_map.wards_of_borough(borough))
            if target.shapes:
                touched = ward_map.wards_touching(target.shapes)
        return set_id, ward_map, named, sorted(named.union(touched))

    def _database_name(self) -> str:
        return self._session.get_bind().engine.url.render_as_string(hide_password=True)

    async def _cell_path(
        self,
        shapes: TargetShapes,
        *,
        rank: int,
        bit: int,
        clock: _Clock,
    ) -> tuple[bytes, list[uuid.UUID]]:
        """(member numbers, big-endian int32, of the drawn areas that intersect ``shapes``; those
        areas' subscription ids)."""
        covers = [circle_cover(c) for c in shapes.circles] + [
            polygon_cover(p) for p in shapes.polygons
        ]
        found = await self._audience.cell_candidates(
            TargetCells.of(covers), rank=rank, category_bit=bit
        )
        clock.lap("cell_candidates")
        circle = ~found.sure & ~np.isnan(found.radii)
        polygon = ~found.sure & np.isnan(found.radii)
        passed = found.sure.copy()
        if circle.any():
            passed[circle] = shapes.hits_circles(
                found.lats[circle], found.lons[circle], found.radii[circle]
            )
        if polygon.any():
            unsure_polygons = [found.subscription_id(int(i)) for i in np.flatnonzero(polygon)]
            geometries = await self._audience.polygon_geometries(unsure_polygons)
            passed[polygon] = shapes.hits_geometries(
                [shape(geometries[sid]) for sid in unsure_polygons]
            )
        clock.lap("exact_tests")
        log.debug(
            "geo.audience.cells",
            candidates=len(passed),
            certain=int(found.sure.sum()),
            tested=int(circle.sum() + polygon.sum()),
            passed=int(passed.sum()),
        )
        return found.numbers[passed].tobytes(), [
            found.subscription_id(int(i)) for i in np.flatnonzero(passed)
        ]

    async def resolve_audience(
        self,
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
        done = await self.fan_out(event_id, alert, batch_size=batch_size, limits=limits)
        return done.audience

    async def fan_out(
        self,
        event_id: uuid.UUID,
        alert: AlertPublished,
        *,
        batch_size: int,
        limits: TargetLimits | None = None,
    ) -> FanOut:
        """``resolve_audience``, with the time each step took."""
        started = time.perf_counter()
        clock = _Clock()
        alert_id = alert.content.alert_id
        stored = None
        if alert.content.msg_type in FOLLOW_UP_MSG_TYPES:
            # A CAP Update or Cancel is a message of its own that references the original alert;
            # it goes to the people the original reached, whoever watches the target now.
            stored = await self._audience.recipient_set(alert.content.references or alert_id)
        timings: dict[str, float] = {}
        if stored is not None:
            packed, set_id = stored.members, stored.boundary_set_id
            clock.lap("recipient_set_read")
        else:
            target = Target.of_alert(alert, limits or TargetLimits())
            resolution = await self.resolve(
                target,
                rank=severity_rank(alert.content.severity),
                bit=category_bit(alert.content.category),
            )
            packed, set_id, timings = (
                resolution.packed,
                resolution.boundary_set_id,
                dict(resolution.timings_ms),
            )
            clock.lap("resolution")
            await self._audience.save_recipient_set(
                alert_id=alert_id,
                boundary_set_id=set_id,
                members=packed,
                recipient_count=resolution.count,
            )
            clock.lap("recipient_set_write")
        resolve_ms = round((time.perf_counter() - started) * 1000, 3)
        recipients = len(packed) // ID_BYTES
        batches = await self.stage_batches(alert, packed, batch_size=batch_size)
        clock.lap("batch_staging")
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
        await self._audience.add_audience(audience)
        clock.lap("audience_record")
        timings.update(clock.laps)
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
        return FanOut(audience, timings)

    async def stage_batches(self, alert: AlertPublished, packed: bytes, *, batch_size: int) -> int:
        """Stage a RecipientBatch event per ``batch_size`` members of ``packed`` in the outbox;
        returns how many.

        The hot path of a London-wide alert (2,000 batches, a million ids): the envelope is
        serialised once per alert and each batch only stamps its number, event id and member ids,
        formatted as text by numpy, never as a million UUID objects through pydantic."""
        if not packed:
            return 0
        template = EventEnvelope.wrap(
            RecipientBatch(content=alert.content, batch_number=0, member_ids=[]),
            producer=PRODUCER,
            request_id=request_id_var.get(),
        ).model_dump(mode="json")
        template["payload"]["member_ids"] = _MEMBER_IDS_MARK
        topic = RecipientBatch.topic.value
        texts = uuid_texts(packed)
        step = batch_size
        batches = 0
        for first in range(0, len(texts), step * OUTBOX_INSERT_BATCHES):
            event_ids, keys, envelopes = [], [], []
            for start in range(first, min(len(texts), first + step * OUTBOX_INSERT_BATCHES), step):
                event_id = uuid.uuid4()
                template["event_id"] = str(event_id)
                template["payload"]["batch_number"] = batches
                head, tail = json.dumps(template).split(_MEMBER_IDS_JSON)
                ids = b'","'.join(texts[start : start + step].tolist()).decode()
                envelopes.append(f'{head}"member_ids": ["{ids}"]{tail}')
                event_ids.append(event_id)
                keys.append(f"{alert.content.alert_id}:{batches}")
                batches += 1
            await self._audience.stage_outbox_rows(
                event_ids=event_ids, topics=[topic] * len(keys), keys=keys, envelopes=envelopes
            )
        return batches

    async def preview(
        self,
        target: Target,
        *,
        category: str | None,
        severity: str | None,
    ) -> AudiencePreview:
        """What publishing would reach now: the count (exactly as resolution would find it) and
        a per-ward breakdown, from one pass over the ward index. Stores nothing."""
        started = time.perf_counter()
        set_id, ward_map, named, all_wards = await self._target_wards(target)
        _check_codes(target, ward_map)
        rank = severity_rank(severity) if severity else ANY_SEVERITY
        bit = category_bit(category) if category else ANY_CATEGORY
        cell_numbers, matched = b"", list[uuid.UUID]()
        if target.shapes:
            cell_numbers, matched = await self._cell_path(
                target.shapes, rank=rank, bit=bit, clock=_Clock()
            )
        by_ward = await self._audience.ward_path_numbers_by_ward(
            named=sorted(named),
            touched=sorted(set(all_wards) - named),
            matched=matched,
            rank=rank,
            category_bit=bit,
        )
        # Suspended members receive nothing until reinstated, so they are not counted.
        suspended = await self._members.suspended_numbers()
        # The matched drawn areas' rows add no one the cell path did not already count.
        recipients = len(
            without_numbers(
                members.unique_numbers(cell_numbers, *(w.numbers for w in by_ward)), suspended
            )
        )
        counts = {
            w.ward_code: len(without_numbers(members.unique_numbers(w.numbers), suspended))
            for w in by_ward
        }
        wards = []
        for code in all_wards:
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
            recipients=recipients,
            wards=wards,
            boundary_set_id=set_id,
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
