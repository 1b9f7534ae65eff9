"""A year of London's alerts, generated from OWL's published figures, written as JSON lines.

OWL (Online Watch Link) publishes 14,000 alerts a year, 6 million emails and 12 million push
notifications. The generator turns those figures into a plan that :mod:`replay.runner` plays
against the platform:

- **when**: every alert falls on a day drawn by weekday weight (police services publish most on
  weekdays) and at a minute drawn by hour weight (most in working hours, a tail into the
  evening, few at night);
- **where**: a ward drawn in proportion to its population. The ONS ward populations are not in
  ``../shared/data/london``, so the number of postcodes in each ward stands in for them (a
  postcode covers about 15 households, so the count follows where people live); most alerts
  target one ward, some a few wards of one borough, a whole borough, or two boroughs, and a
  few (``london_wide``) all of London;
- **what**: a crime type (the MOPAC 7 priority crimes most, then the rest) and a CAP severity;
- **what follows**: about a fifth get an Update, some are cancelled, some get a resolved
  outcome (an AllClear Update), each some minutes to days after publication;
- **how many**: each alert's expected audience is the members watching its wards who chose its
  crime type. Members always receive ``safety_advice`` (what London-wide alerts are); each
  other crime type is chosen by a share of members, ``reach``, computed so that the year's
  emails (every message, Updates included, to a population of ``population`` members) total
  exactly ``yearly_emails``. Pushes are planned at OWL's ratio (``yearly_pushes``); what the
  replayed population receives depends on how many members have a push endpoint
  (:mod:`replay.population`), and the run reports both.

The same seed and options give the same plan, byte for byte.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
LONDON_DATA = REPO_ROOT.parent / "shared" / "data" / "london"
POSTCODES_CSV = LONDON_DATA / "postcodes.csv"

PLAN_VERSION = 1
YEARLY_ALERTS = 14_000
YEARLY_EMAILS = 6_000_000
YEARLY_PUSHES = 12_000_000
FULL_POPULATION = 1_000_000
LONDON_WIDE_ALERTS = 2

# Monday first. Weekend publishing is about half a weekday's.
WEEKDAY_WEIGHTS = (1.15, 1.15, 1.1, 1.1, 1.05, 0.55, 0.45)
# Hours 0..23, London time: working hours, an evening tail, a quiet night.
HOUR_WEIGHTS = (
    0.2, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.5, 4.0, 4.5, 4.5,
    4.0, 4.0, 4.5, 4.5, 4.0, 3.0, 2.0, 1.5, 1.0, 0.8, 0.5, 0.3,
)  # fmt: skip

# The MOPAC 7 (violence with injury, robbery, burglary, theft from the person, theft of and
# from motor vehicles, criminal damage) take most alerts; the rest follow.
MOPAC_7 = (
    "burglary",
    "robbery",
    "violence_with_injury",
    "theft_from_motor_vehicle",
    "theft_of_motor_vehicle",
    "theft_from_person",
    "criminal_damage",
)
CRIME_TYPE_WEIGHTS: dict[str, float] = {
    "burglary": 20,
    "theft_from_motor_vehicle": 8,
    "theft_of_motor_vehicle": 6,
    "robbery": 9,
    "theft_from_person": 8,
    "criminal_damage": 7,
    "violence_with_injury": 5,
    "antisocial_behaviour": 9,
    "fraud_or_scam": 10,
    "missing_person": 5,
    "witness_appeal": 5,
    # Safety advice is what the London-wide alerts carry (below), not an ordinary alert.
    "safety_advice": 0,
    "community_event": 3,
    "road_closure": 1,
}
# Members always receive safety advice; the reach of the others is calibrated.
ALWAYS_RECEIVED = frozenset({"safety_advice"})
SEVERITY_WEIGHTS: dict[str, float] = {"Minor": 30, "Moderate": 45, "Severe": 20, "Extreme": 5}
# Target shapes of the ordinary alerts and their shares.
# A borough holds some 30,000 of a million members: whole-borough targets are rare.
TARGET_WEIGHTS: dict[str, float] = {"ward": 85, "wards": 12, "borough": 2.2, "boroughs": 0.8}

UPDATE_SHARE = 0.2
CANCEL_SHARE = 0.04
RESOLVE_SHARE = 0.08
# Missing people are found and appeals answered: those end in an outcome more often.
RESOLVE_SHARE_BY_TYPE = {"missing_person": 0.6, "witness_appeal": 0.3}


@dataclass(frozen=True)
class Geography:
    """Wards with their borough and postcode count (the population proxy)."""

    ward_postcodes: dict[str, int]
    ward_borough: dict[str, str]

    @classmethod
    def from_postcodes(cls, path: Path = POSTCODES_CSV) -> Geography:
        counts: Counter[str] = Counter()
        borough: dict[str, str] = {}
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                counts[row["ward_code"]] += 1
                borough[row["ward_code"]] = row["borough_code"]
        return cls(dict(sorted(counts.items())), borough)

    @property
    def total_postcodes(self) -> int:
        return sum(self.ward_postcodes.values())

    def boroughs(self) -> dict[str, list[str]]:
        wards: dict[str, list[str]] = defaultdict(list)
        for ward in self.ward_postcodes:
            wards[self.ward_borough[ward]].append(ward)
        return dict(sorted(wards.items()))

    def share_of(self, wards: Iterable[str]) -> float:
        return sum(self.ward_postcodes[w] for w in set(wards)) / self.total_postcodes


@dataclass(frozen=True)
class FollowUp:
    kind: str  # "update", "cancel" or "resolve"
    at: datetime


@dataclass
class PlannedAlert:
    number: int
    at: datetime
    crime_type: str
    severity: str
    target: str  # ward, wards, borough, boroughs or london_wide
    ward_codes: list[str]
    borough_codes: list[str]
    follow_ups: list[FollowUp] = field(default_factory=list)
    # The expected recipients of each message at full population (filled in by calibration).
    expected_audience: int = 0
    expected_emails: int = 0
    expected_pushes: int = 0

    @property
    def messages(self) -> int:
        """The original and every follow-up message: each goes to the same recipients."""
        return 1 + len(self.follow_ups)

    @property
    def needs_second_officer(self) -> bool:
        return self.severity == "Extreme" or len(self.touched_boroughs) > 1

    @property
    def touched_boroughs(self) -> set[str]:
        return set(self.borough_codes)

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["kind"] = "alert"
        record["at"] = self.at.isoformat()
        record["follow_ups"] = [{"kind": f.kind, "at": f.at.isoformat()} for f in self.follow_ups]
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> PlannedAlert:
        values = {k: v for k, v in record.items() if k != "kind"}
        values["at"] = datetime.fromisoformat(values["at"])
        values["follow_ups"] = [
            FollowUp(f["kind"], datetime.fromisoformat(f["at"])) for f in values["follow_ups"]
        ]
        return cls(**values)


@dataclass(frozen=True)
class PlanHeader:
    version: int
    seed: int
    start: str
    days: int
    alerts: int
    population: int
    reach: float
    yearly_emails: int
    yearly_pushes: int
    population_proxy: str = "postcodes per ward (../shared/data/london/postcodes.csv)"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "header", **asdict(self)}


@dataclass
class Plan:
    header: PlanHeader
    alerts: list[PlannedAlert]

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as handle:
            for record in self.records():
                handle.write(json.dumps(record, sort_keys=True) + "\n")

    def records(self) -> Iterator[dict[str, Any]]:
        yield self.header.to_json()
        for alert in self.alerts:
            yield alert.to_json()

    @classmethod
    def read(cls, path: Path) -> Plan:
        with path.open() as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        header = {k: v for k, v in records[0].items() if k != "kind"}
        return cls(PlanHeader(**header), [PlannedAlert.from_json(r) for r in records[1:]])

    def window(self, start: datetime | None, end: datetime | None) -> list[PlannedAlert]:
        """The alerts published in [start, end)."""
        return [
            a
            for a in self.alerts
            if (start is None or a.at >= start) and (end is None or a.at < end)
        ]

    def busiest_week(self) -> tuple[datetime, datetime]:
        """The seven days (from a midnight) that carry the most expected emails."""
        by_day: Counter[date] = Counter()
        for alert in self.alerts:
            by_day[alert.at.date()] += alert.expected_emails
        days = sorted(by_day)
        best = max(days, key=lambda d: sum(by_day[d + timedelta(i)] for i in range(7)))
        start = datetime(best.year, best.month, best.day, tzinfo=UTC)
        return start, start + timedelta(days=7)

    def totals(self) -> dict[str, int]:
        return {
            "alerts": len(self.alerts),
            "messages": sum(a.messages for a in self.alerts),
            "emails": sum(a.expected_emails for a in self.alerts),
            "pushes": sum(a.expected_pushes for a in self.alerts),
            "updates": sum(1 for a in self.alerts for f in a.follow_ups if f.kind == "update"),
            "cancels": sum(1 for a in self.alerts for f in a.follow_ups if f.kind == "cancel"),
            "resolves": sum(1 for a in self.alerts for f in a.follow_ups if f.kind == "resolve"),
            "london_wide": sum(1 for a in self.alerts if a.target == "london_wide"),
        }


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class PlanGenerator:
    def __init__(
        self,
        geography: Geography,
        *,
        seed: int = 2026,
        start: date = date(2026, 1, 1),
        days: int = 365,
        alerts: int = YEARLY_ALERTS,
        population: int = FULL_POPULATION,
        yearly_emails: int = YEARLY_EMAILS,
        yearly_pushes: int = YEARLY_PUSHES,
        london_wide: int = LONDON_WIDE_ALERTS,
    ) -> None:
        self._geography = geography
        self._rng = random.Random(seed)
        self._seed = seed
        self._start = start
        self._days = days
        self._alerts = alerts
        self._population = population
        self._yearly_emails = yearly_emails
        self._yearly_pushes = yearly_pushes
        self._london_wide = london_wide
        self._wards = list(geography.ward_postcodes)
        self._ward_weights = list(geography.ward_postcodes.values())
        self._boroughs = geography.boroughs()
        self._borough_weights = {
            b: float(sum(geography.ward_postcodes[w] for w in wards))
            for b, wards in self._boroughs.items()
        }

    def generate(self) -> Plan:
        day_weights = [
            WEEKDAY_WEIGHTS[(self._start + timedelta(d)).weekday()] for d in range(self._days)
        ]
        days = sorted(self._rng.choices(range(self._days), weights=day_weights, k=self._alerts))
        london_wide = set(self._rng.sample(range(self._alerts), k=self._london_wide))
        alerts = [
            self._alert(index, day, london_wide=index in london_wide)
            for index, day in enumerate(days)
        ]
        alerts.sort(key=lambda a: a.at)
        for number, alert in enumerate(alerts, start=1):
            alert.number = number
        reach = self._calibrate(alerts)
        header = PlanHeader(
            version=PLAN_VERSION,
            seed=self._seed,
            start=self._start.isoformat(),
            days=self._days,
            alerts=len(alerts),
            population=self._population,
            reach=reach,
            yearly_emails=self._yearly_emails,
            yearly_pushes=self._yearly_pushes,
        )
        return Plan(header, alerts)

    def _moment(self, day: int) -> datetime:
        hour = self._rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        moment = datetime(self._start.year, self._start.month, self._start.day, tzinfo=UTC)
        return moment + timedelta(
            days=day, hours=hour, minutes=self._rng.randrange(60), seconds=self._rng.randrange(60)
        )

    def _alert(self, index: int, day: int, *, london_wide: bool) -> PlannedAlert:
        at = self._moment(day)
        if london_wide:
            crime_type, severity, target = "safety_advice", "Extreme", "london_wide"
            wards: list[str] = []
            boroughs = list(self._boroughs)
        else:
            crime_type = _weighted(self._rng, CRIME_TYPE_WEIGHTS)
            severity = _weighted(self._rng, SEVERITY_WEIGHTS)
            target = _weighted(self._rng, TARGET_WEIGHTS)
            wards, boroughs = self._target(target)
        alert = PlannedAlert(index, at, crime_type, severity, target, wards, boroughs)
        if not london_wide:
            # A London-wide follow-up would be another million messages: those are kept rare.
            alert.follow_ups = self._follow_ups(alert)
        return alert

    def _target(self, target: str) -> tuple[list[str], list[str]]:
        ward = self._rng.choices(self._wards, weights=self._ward_weights)[0]
        borough = self._geography.ward_borough[ward]
        if target == "ward":
            return [ward], [borough]
        if target == "wards":
            neighbours = [w for w in self._boroughs[borough] if w != ward]
            extra = self._rng.sample(neighbours, k=min(len(neighbours), self._rng.randint(1, 3)))
            return sorted([ward, *extra]), [borough]
        if target == "borough":
            return [], [borough]
        others = {b: w for b, w in self._borough_weights.items() if b != borough}
        second = self._rng.choices(list(others), weights=list(others.values()))[0]
        return [], sorted([borough, second])

    def _follow_ups(self, alert: PlannedAlert) -> list[FollowUp]:
        follow_ups: list[FollowUp] = []
        if self._rng.random() < UPDATE_SHARE:
            follow_ups.append(FollowUp("update", alert.at + self._delay()))
        ending = self._rng.random()
        resolve_share = RESOLVE_SHARE_BY_TYPE.get(alert.crime_type, RESOLVE_SHARE)
        last = follow_ups[-1].at if follow_ups else alert.at
        if ending < CANCEL_SHARE:
            follow_ups.append(FollowUp("cancel", last + self._delay()))
        elif ending < CANCEL_SHARE + resolve_share:
            follow_ups.append(FollowUp("resolve", last + self._delay()))
        return follow_ups

    def _delay(self) -> timedelta:
        """Minutes to days: log-uniform between 10 minutes and 3 days."""
        minutes = 10 * (432 ** self._rng.random())
        return timedelta(minutes=round(minutes))

    def _full_audience(self, alert: PlannedAlert) -> float:
        """Members watching the alert's area, before the crime-type choice."""
        if alert.target == "london_wide":
            return float(self._population)
        wards = set(alert.ward_codes)
        if not wards:
            wards = {w for b in alert.borough_codes for w in self._boroughs[b]}
        return self._population * self._geography.share_of(wards)

    def _calibrate(self, alerts: Sequence[PlannedAlert]) -> float:
        """The share of members choosing each (not always received) crime type, such that the
        year's emails come to ``yearly_emails``; then every alert's expected numbers."""
        always = sum(
            self._full_audience(a) * a.messages for a in alerts if a.crime_type in ALWAYS_RECEIVED
        )
        chosen = sum(
            self._full_audience(a) * a.messages
            for a in alerts
            if a.crime_type not in ALWAYS_RECEIVED
        )
        reach = max(0.0, min(1.0, (self._yearly_emails - always) / chosen)) if chosen else 1.0
        push_ratio = self._yearly_pushes / self._yearly_emails
        for alert in alerts:
            share = 1.0 if alert.crime_type in ALWAYS_RECEIVED else reach
            alert.expected_audience = round(self._full_audience(alert) * share)
            alert.expected_emails = alert.expected_audience * alert.messages
            alert.expected_pushes = round(alert.expected_emails * push_ratio)
        return round(reach, 6)
