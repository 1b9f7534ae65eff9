"""The plan generator: the same seed gives the same year, and the year matches OWL's figures."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from replay.plan import (
    MOPAC_7,
    YEARLY_ALERTS,
    YEARLY_EMAILS,
    YEARLY_PUSHES,
    Geography,
    Plan,
    PlanGenerator,
)


@pytest.fixture(scope="module")
def geography() -> Geography:
    return Geography.from_postcodes()


@pytest.fixture(scope="module")
def year(geography: Geography) -> Plan:
    return PlanGenerator(geography, seed=7).generate()


class TestPlanGenerator:
    def test_the_same_seed_gives_the_same_year_byte_for_byte(
        self, geography: Geography, year: Plan, tmp_path: Path
    ) -> None:
        again = PlanGenerator(geography, seed=7).generate()
        year.write(tmp_path / "one.jsonl")
        again.write(tmp_path / "two.jsonl")
        assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()

    def test_another_seed_gives_another_year(self, geography: Geography, year: Plan) -> None:
        other = PlanGenerator(geography, seed=8).generate()
        assert [a.at for a in other.alerts] != [a.at for a in year.alerts]

    def test_a_written_plan_reads_back_the_same(self, year: Plan, tmp_path: Path) -> None:
        year.write(tmp_path / "plan.jsonl")
        assert Plan.read(tmp_path / "plan.jsonl") == year

    def test_the_year_totals_match_owls_figures(self, year: Plan) -> None:
        totals = year.totals()
        assert totals["alerts"] == YEARLY_ALERTS
        assert totals["emails"] == pytest.approx(YEARLY_EMAILS, rel=1e-3)
        assert totals["pushes"] == pytest.approx(YEARLY_PUSHES, rel=1e-3)
        assert totals["london_wide"] == 2

    def test_about_a_fifth_are_updated_and_some_cancelled_or_resolved(self, year: Plan) -> None:
        totals = year.totals()
        assert 0.17 < totals["updates"] / totals["alerts"] < 0.23
        assert totals["cancels"] > 0
        assert totals["resolves"] > 0
        for alert in year.alerts:
            moments = [alert.at, *(f.at for f in alert.follow_ups)]
            assert moments == sorted(moments)

    def test_weekdays_and_working_hours_carry_most_alerts(self, year: Plan) -> None:
        weekdays = sum(1 for a in year.alerts if a.at.weekday() < 5)
        working = sum(1 for a in year.alerts if 8 <= a.at.hour < 18)
        assert weekdays / len(year.alerts) > 0.8
        assert working / len(year.alerts) > 0.6
        first = date.fromisoformat(year.header.start)
        assert all(first <= a.at.date() < first + timedelta(days=365) for a in year.alerts)

    def test_the_mopac_7_lead_the_crime_types(self, year: Plan) -> None:
        counts = Counter(a.crime_type for a in year.alerts)
        mopac = sum(counts[c] for c in MOPAC_7)
        assert mopac / len(year.alerts) > 0.5
        assert counts["burglary"] == max(counts.values())

    def test_wards_are_drawn_in_proportion_to_their_postcodes(
        self, geography: Geography, year: Plan
    ) -> None:
        singles = Counter(a.ward_codes[0] for a in year.alerts if a.target == "ward")
        biggest = max(geography.ward_postcodes, key=geography.ward_postcodes.__getitem__)
        smallest = min(geography.ward_postcodes, key=geography.ward_postcodes.__getitem__)
        assert singles[biggest] > singles[smallest]

    def test_extreme_and_cross_borough_alerts_need_a_second_officer(self, year: Plan) -> None:
        for alert in year.alerts:
            wide = len(alert.borough_codes) > 1
            assert alert.needs_second_officer == (alert.severity == "Extreme" or wide)

    def test_the_busiest_week_carries_the_most_emails(self, year: Plan) -> None:
        start, end = year.busiest_week()
        week = sum(a.expected_emails for a in year.window(start, end))
        later = sum(
            a.expected_emails for a in year.window(start + timedelta(1), end + timedelta(1))
        )
        assert week >= later
        assert end - start == timedelta(days=7)
