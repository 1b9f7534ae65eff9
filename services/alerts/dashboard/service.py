"""The public crime-alert dashboard: counts per month, area and crime type, kept up to date as
alerts are published, followed up and cancelled, as dispatch reports deliveries and as members
mark and reply (and are erased), never by scanning deliveries when someone reads them.

Each published alert has a fact (``DashboardAlertFact``): what it adds to the cells, as last
counted from its own rows. An event about an alert recounts that one alert and adds the
difference to every cell it touches, so a report that arrives twice, or a mark replaced by
another, changes nothing twice. An alert counts in the month it was first published (London
time), under its author and its current crime type and severity (its latest Update's, or an
officer's correction of the crime type), once in London, once in each borough and once in
each ward it touches: an Update or correction that changes either moves the whole alert, with
the people it reached and its marks and replies, from its old cells to its new ones.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.authoring.repository import AlertRepository
from services.alerts.config import AlertsSettings
from services.alerts.dashboard.repository import CellKey, CellQuery, DashboardRepository
from services.alerts.delivery.repository import DeliveryStatsRepository
from services.alerts.feedback.repository import FeedbackRepository
from services.alerts.geography import geography_for
from services.alerts.models import (
    DASHBOARD_COUNTS,
    Alert,
    AuditAction,
    AuthorKind,
    CapStatus,
    Channel,
    DashboardAlertFact,
    DashboardCell,
    DashboardWatchers,
    MsgType,
)
from shared.dashboard import Viewer
from shared.events import WatchersCounted
from shared.logs import get_logger

log = get_logger(__name__)

LONDON_TIME = ZoneInfo("Europe/London")
# The ONS code of the London region: the area of the London-wide cells.
LONDON_CODE = "E12000007"
# Workflow steps that change what an alert adds to the dashboard (expiry changes nothing).
DASHBOARD_ACTIONS = frozenset(
    {AuditAction.PUBLISHED, AuditAction.UPDATED, AuditAction.RESOLVED, AuditAction.CANCELLED}
)
# The crime type of the cells that add up every crime type: a reader's totals then come
# suppressed as a whole, never as a sum of suppressed parts.
ALL_CRIME_TYPES = "all"


def current_message(original: Alert, follow_ups: Sequence[Alert]) -> Alert:
    """What the alert says now: its latest Update, or the original (a Cancel says nothing new:
    it copies the message it cancels)."""
    updates = [m for m in follow_ups if m.msg_type is MsgType.UPDATE]
    return updates[-1] if updates else original


def _place(fact: DashboardAlertFact) -> tuple[str, list[str], list[str]]:
    """Which cells a fact counts in (besides its month, which never changes)."""
    return fact.crime_type, list(fact.borough_codes), list(fact.ward_codes)


def month_of(alert: Alert) -> date:
    assert alert.published_at is not None, "only published alerts are counted"
    return alert.published_at.astimezone(LONDON_TIME).date().replace(day=1)


@dataclass(frozen=True)
class Figures:
    """One cell as a reader may see it: a count they may not see exactly is None."""

    month: date
    area_kind: str
    area_code: str
    borough_code: str | None
    crime_type: str
    # DASHBOARD_COUNTS, and members_watching on the rows of every crime type (``all``).
    counts: Mapping[str, int | None]

    @property
    def suppressed(self) -> list[str]:
        return [name for name, n in self.counts.items() if n is None]


class DashboardService:
    def __init__(self, session: AsyncSession, *, settings: AlertsSettings) -> None:
        self._settings = settings
        self._alerts = AlertRepository(session)
        self._feedback = FeedbackRepository(session)
        self._delivery = DeliveryStatsRepository(session)
        self._cells = DashboardRepository(session)

    # --- keeping the counts -------------------------------------------------------------

    async def recount(self, alert_id: uuid.UUID) -> None:
        """Recount one alert (or the original of an Update or Cancel) from its own rows and
        apply the difference to the cells. Safe to call for any alert, counted or not."""
        alert = await self._alerts.get(alert_id)
        if alert is not None and alert.references_id is not None:
            alert = await self._alerts.get(alert.references_id)
        if alert is None:
            return
        await self._cells.lock_alert(alert.id)
        old = await self._cells.fact(alert.id)
        counted = (
            alert.published_at is not None
            and alert.msg_type is MsgType.ALERT
            and alert.cap_status is CapStatus.ACTUAL
        )
        follow_ups: Sequence[Alert] = await self._alerts.follow_ups(alert.id) if counted else ()
        current = current_message(alert, follow_ups)
        new = await self._count(alert, current, follow_ups) if counted else None
        place = (
            current.crime_type.value,
            sorted(alert.touched_borough_codes),
            sorted(alert.touched_ward_codes),
        )
        if old is not None and old.counts == new and _place(old) == place:
            return
        deltas: dict[CellKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        if old is not None:
            # Taken away where it was counted before any of that changes.
            self._add(deltas, old, sign=-1)
        if new is None:
            if old is not None:
                await self._cells.delete_fact(old)
        else:
            fact = old or DashboardAlertFact(alert_id=alert.id, month=month_of(alert))
            fact.crime_type, fact.borough_codes, fact.ward_codes = place
            fact.counts = new
            self._add(deltas, fact, sign=1)
            await self._cells.save_fact(fact)
        changed = {
            key: {name: n for name, n in counts.items() if n}
            for key, counts in deltas.items()
            if any(counts.values())
        }
        await self._cells.add_to_cells(changed)
        log.info("alerts.dashboard.recounted", alert_id=str(alert.id), cells=len(changed))

    async def recount_all(self, alert_ids: Iterable[uuid.UUID]) -> None:
        """For an erasure: every alert the member had marked or replied to."""
        for alert_id in sorted(set(alert_ids)):
            await self.recount(alert_id)

    async def _count(
        self, alert: Alert, current: Alert, follow_ups: Sequence[Alert]
    ) -> dict[str, int]:
        useful, not_useful = await self._feedback.usefulness(alert.id)
        replies, _answered = await self._feedback.reply_counts(alert.id)
        # People reached on a channel: the most any one of its messages was delivered to (an
        # Update goes to the same people again, so adding them up would count them twice).
        reached = dict.fromkeys(Channel, 0)
        for row in await self._delivery.for_messages([alert.id, *(m.id for m in follow_ups)]):
            if row.channel in reached:
                channel = Channel(row.channel)
                reached[channel] = max(reached[channel], row.delivered)
        kind = alert.author_kind or (
            AuthorKind.OFFICER if alert.author_is_officer else AuthorKind.PARTNER
        )
        counts = dict.fromkeys(DASHBOARD_COUNTS, 0)
        counts |= {
            "alerts": 1,
            f"severity_{current.severity.value.lower()}": 1,
            f"by_{kind.value}": 1,
            "updates": sum(1 for m in follow_ups if m.msg_type is MsgType.UPDATE),
            "cancelled": int(any(m.msg_type is MsgType.CANCEL for m in follow_ups)),
            **{f"reached_{channel.value}": n for channel, n in reached.items()},
            "marked_useful": useful,
            "marked_not_useful": not_useful,
            "replies": replies,
        }
        return counts

    def _add(
        self,
        deltas: dict[CellKey, dict[str, int]],
        fact: DashboardAlertFact,
        *,
        sign: int,
    ) -> None:
        geography = geography_for(self._settings)
        areas: list[tuple[str, str, str | None]] = [("london", LONDON_CODE, None)]
        areas += [("borough", code, code) for code in fact.borough_codes]
        areas += [("ward", code, geography.borough_of(code)) for code in fact.ward_codes]
        keys = [
            CellKey(fact.month, kind, code, crime_type, borough)
            for kind, code, borough in areas
            for crime_type in (fact.crime_type, ALL_CRIME_TYPES)
        ]
        for key in keys:
            for name, n in fact.counts.items():
                deltas[key][name] += sign * n

    # --- reading them -------------------------------------------------------------------

    async def figures(self, query: CellQuery, viewer: Viewer, *, limit: int) -> list[Figures]:
        """The cells, with the members watching each area on its ``all`` row; an area with
        members watching but no alert that month gets an ``all`` row of zeros."""
        cells = await self._cells.cells(query, limit=limit)
        watching: dict[tuple[date, str, str], DashboardWatchers] = {}
        if query.crime_type in (None, ALL_CRIME_TYPES):
            watching = {
                (row.month, row.area_kind, row.area_code): row
                for row in await self._cells.watchers(query)
            }
        found: list[Figures] = []
        for cell in cells:
            counts = {name: getattr(cell, name) for name in DASHBOARD_COUNTS}
            area = (cell.month, cell.area_kind, cell.area_code)
            if cell.crime_type == ALL_CRIME_TYPES and area in watching:
                counts["members_watching"] = watching.pop(area).members_watching
            found.append(self._as_seen(cell, cell.crime_type, counts, viewer))
        for row in watching.values():
            zeros = {name: 0 for name in DASHBOARD_COUNTS}
            counts = zeros | {"members_watching": row.members_watching}
            found.append(self._as_seen(row, ALL_CRIME_TYPES, counts, viewer))
        found.sort(key=lambda f: (f.month, f.area_kind, f.area_code, f.crime_type))
        return found

    async def months(self) -> Sequence[date]:
        return await self._cells.months()

    async def record_watchers(self, counted: WatchersCounted) -> None:
        """Keep geo's count as the month's (London time) latest."""
        month = counted.counted_at.astimezone(LONDON_TIME).date().replace(day=1)
        await self._cells.save_watchers(month, counted.counted_at, counted.areas)
        log.info(
            "alerts.dashboard.watchers_recorded",
            month=month.isoformat(),
            areas=len(counted.areas),
        )

    def _as_seen(
        self,
        area: DashboardCell | DashboardWatchers,
        crime_type: str,
        counts: Mapping[str, int],
        viewer: Viewer,
    ) -> Figures:
        below = self._settings.dashboard_suppress_below
        return Figures(
            month=area.month,
            area_kind=area.area_kind,
            area_code=area.area_code,
            borough_code=area.borough_code,
            crime_type=crime_type,
            counts={
                name: viewer.shown(n, borough_code=area.borough_code, suppress_below=below)
                for name, n in counts.items()
            },
        )
