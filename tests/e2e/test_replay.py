"""A small replay on the whole platform: 20 alerts (one London-wide) at 1:1000 of a million
members, through the gateway's public API, and not one message lost or doubled on any channel;
then the dashboard's cells equal a recount of the alerts' own rows, and its open data (CSV and
JSON) is served and says what the figures API says."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from deploy.devstack import DevStack
from replay.cli import Target, build_parser, replay_plan, seed_population
from replay.plan import Geography, PlanGenerator
from replay.population import unseed
from services.alerts.dashboard.service import LONDON_CODE, LONDON_TIME
from services.alerts.models import DASHBOARD_COUNTS, Alert, CapStatus, DashboardCell, MsgType
from shared.db import build_engine, build_sessionmaker, utcnow
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


class TestSmallReplay:
    async def test_every_seeded_recipient_gets_each_message_exactly_once(
        self, platform: DevStack, gateway: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        # Enough emails for the 20 alerts that every member watching a targeted ward chose
        # every crime type (reach 1): the most recipients this small population can give.
        plan = PlanGenerator(
            Geography.from_postcodes(),
            seed=12,
            start=date(2026, 3, 2),
            days=1,
            alerts=20,
            london_wide=1,
            yearly_emails=100_000_000,
        ).generate()
        plan_path = tmp_path / "plan.jsonl"
        plan.write(plan_path)
        target = Target.of_stack(platform)
        assert target.databases is not None
        state = await seed_population(
            plan, 0.001, target.databases, target.sinks.webpush, tmp_path / "population.json"
        )
        args = build_parser().parse_args(
            ["run", "--plan", str(plan_path), "--speed", "4320", "--settle", "60",
             "--results", str(tmp_path / "replay.json")]
        )  # fmt: skip
        results = await replay_plan(args, plan, state, target, show=False)

        assert results["alerts"] == 20, results["errors"]
        assert results["messages_expected"] >= 1_000  # the London-wide alert reaches everyone
        assert results["lost"] == 0, results["lost_by_channel"]
        assert results["doubled"] == 0
        assert results["unexpected"] == 0
        assert results["messages_delivered"] == results["messages_expected"]
        assert set(results["delivered_by_channel"]) >= {"email", "webpush", "fcm"}

        await check_the_dashboard(platform, gateway)

        # One command removes them again, through identity's erasure.
        members = state.members()
        assert await unseed(target.databases.identity, members, lambda _stage, _n: None) == 1_000
        assert await unseed(target.databases.identity, members, lambda _stage, _n: None) == 0


# What the recount compares: alerts published and their severities.
PUBLISHED = tuple(
    name for name in DASHBOARD_COUNTS if name == "alerts" or name.startswith("severity_")
)
CellKey = tuple[date, str, str, str]


async def recount_published(
    alerts_url: str,
) -> tuple[dict[CellKey, Counter[str]], dict[CellKey, Counter[str]]]:
    """The platform's alerts published per month, area and crime type, counted afresh from the
    alerts' own rows (an alert under its latest Update's crime type and severity), and the same
    as the dashboard's cells keep them."""
    engine = build_engine(alerts_url, application_name="e2e-dashboard-recount")
    try:
        async with build_sessionmaker(engine)() as session:
            messages = (
                await session.scalars(select(Alert).where(Alert.published_at.is_not(None)))
            ).all()
            cells = (await session.scalars(select(DashboardCell))).all()
    finally:
        await engine.dispose()
    updates: dict[Any, list[Alert]] = defaultdict(list)
    for message in messages:
        if message.msg_type is MsgType.UPDATE:
            updates[message.references_id].append(message)
    recounted: dict[CellKey, Counter[str]] = defaultdict(Counter)
    for alert in messages:
        if alert.msg_type is not MsgType.ALERT or alert.cap_status is not CapStatus.ACTUAL:
            continue
        assert alert.published_at is not None
        later = sorted(updates[alert.id], key=lambda m: (m.published_at, m.created_at))
        current = later[-1] if later else alert
        month = alert.published_at.astimezone(LONDON_TIME).date().replace(day=1)
        counts = Counter({"alerts": 1, f"severity_{current.severity.value.lower()}": 1})
        areas = [("london", LONDON_CODE)]
        areas += [("borough", code) for code in alert.touched_borough_codes]
        areas += [("ward", code) for code in alert.touched_ward_codes]
        for kind, code in areas:
            for crime_type in (current.crime_type.value, "all"):
                recounted[(month, kind, code, crime_type)].update(counts)
    kept: dict[CellKey, Counter[str]] = {}
    for cell in cells:
        counts = +Counter({name: getattr(cell, name) for name in PUBLISHED})
        if counts:
            kept[(cell.month, cell.area_kind, cell.area_code, cell.crime_type)] = counts
    return dict(recounted), kept


def as_csv_row(row: dict[str, Any], columns: list[str], suppressed_as: str) -> dict[str, str]:
    return {
        name: suppressed_as
        if name in row["suppressed"]
        else ("" if row[name] is None else str(row[name]))
        for name in columns
    }


async def check_the_dashboard(platform: DevStack, gateway: httpx.AsyncClient) -> None:
    recounted, kept = await recount_published(platform.database_urls["alerts"])
    assert kept == recounted
    # A live replay publishes every alert now, whatever the plan's dates: one month.
    month = utcnow().astimezone(LONDON_TIME).date().replace(day=1)
    london = recounted[(month, "london", LONDON_CODE, "all")]
    assert london["alerts"] >= 20

    index = await gateway.get("/api/alerts/dashboard/open-data")
    assert index.status_code == 200, index.text
    assert f"{month:%Y-%m}" in [m["month"] for m in index.json()["months"]]
    columns = list(index.json()["columns"])
    suppressed_as = index.json()["suppressed_as"]
    below = index.json()["suppress_below"]

    async def consistent() -> tuple[list[dict[str, Any]], str] | None:
        """The open data and the figures API, read until both answer from the same counts
        (dispatch's last delivery reports may still be arriving)."""
        figures = await gateway.get(
            "/api/alerts/dashboard/figures", params={"from": f"{month:%Y-%m}"}
        )
        document = await gateway.get(f"/api/alerts/dashboard/open-data/{month:%Y-%m}.json")
        table = await gateway.get(f"/api/alerts/dashboard/open-data/{month:%Y-%m}.csv")
        for answer in (figures, document, table):
            assert answer.status_code == 200, answer.text
            assert answer.headers["cache-control"].startswith("public")
        rows: list[dict[str, Any]] = document.json()["rows"]
        if rows != figures.json()["rows"]:
            return None
        return rows, table.text

    rows, table = await eventually(consistent, timeout_s=60)
    reader = csv.DictReader(io.StringIO(table))
    assert reader.fieldnames == columns
    assert list(reader) == [as_csv_row(row, columns, suppressed_as) for row in rows]
    # The public's figures are the recount's, small counts suppressed.
    by_cell = {(row["area_kind"], row["area_code"], row["crime_type"]): row for row in rows}
    for (counted_month, kind, code, crime_type), counts in recounted.items():
        if counted_month != month:
            continue
        row = by_cell[(kind, code, crime_type)]
        for name in PUBLISHED:
            n = counts[name]
            assert row[name] == (n if n == 0 or n >= below else None), (kind, code, name)
