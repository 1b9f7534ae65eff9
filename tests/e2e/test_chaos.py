"""The chaos suite's reduced set on the whole platform (``make chaos`` plays every fault on a
platform of its own): a dispatcher killed mid-send, the SMTP relay refusing a few addresses for
good, FCM answering 429 (an SMTP outage for everyone is out of the set for now: see
``chaos.faults.REDUCED``); nothing lost, and no more doubled than the
dispatcher's in-flight window."""

from __future__ import annotations

import httpx
import pytest

from chaos.cli import duplicates_window, failures, seed, ward_members
from chaos.faults import REDUCED, chosen
from chaos.suite import ChaosSuite, supervised
from deploy.devstack import DevStack
from replay.population import unseed
from tests.support.infrastructure import PLATFORM_CLIENT_TIMEOUT_S

pytestmark = pytest.mark.e2e

# Small enough to be quick, large enough that a dispatcher dies with chunks in its hands.
RECIPIENTS = 60
# A backstop per fault, not a speed requirement: with claims reclaimed only after the 120 s
# sending timeout, a killed dispatcher's rows take about two minutes.
RECOVERY_TIMEOUT_S = 400.0


class TestReducedChaos:
    async def test_no_fault_of_the_reduced_set_loses_a_recipient(self, platform: DevStack) -> None:
        ward_code, members = ward_members(RECIPIENTS, index_offset=8_000_000)
        await seed(platform, members)
        try:
            async with httpx.AsyncClient(timeout=PLATFORM_CLIENT_TIMEOUT_S) as client:
                suite = ChaosSuite(
                    platform,
                    members,
                    ward_code,
                    recovery_timeout_s=RECOVERY_TIMEOUT_S,
                    settle_s=3.0,
                    client=client,
                    on_progress=lambda _line: None,
                )
                async with supervised(platform):
                    outcomes = await suite.run(chosen(REDUCED))
        finally:
            await unseed(platform.database_urls["identity"], members, lambda _s, _n: None)

        assert [o.fault for o in outcomes] == list(REDUCED)
        assert failures(outcomes, duplicates_window()) == [], outcomes
        for outcome in outcomes:
            assert outcome.delivered == outcome.expected, outcome
        refused = next(o for o in outcomes if "550" in o.fault)
        assert refused.excused == 5
