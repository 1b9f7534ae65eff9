"""A small replay on the whole platform: 20 alerts (one London-wide) at 1:1000 of a million
members, through the gateway's public API, and not one message lost or doubled on any channel."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from deploy.devstack import DevStack
from replay.cli import Target, build_parser, replay_plan, seed_population
from replay.plan import Geography, PlanGenerator
from replay.population import unseed

pytestmark = pytest.mark.e2e


class TestSmallReplay:
    async def test_every_seeded_recipient_gets_each_message_exactly_once(
        self, platform: DevStack, tmp_path: Path
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

        # One command removes them again, through identity's erasure.
        members = state.members()
        assert await unseed(target.databases.identity, members, lambda _stage, _n: None) == 1_000
        assert await unseed(target.databases.identity, members, lambda _stage, _n: None) == 0
