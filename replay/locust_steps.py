"""Locust users at a fixed request rate, for ``python -m replay.api_load --steps``: each step
runs one of these classes with enough users for the step's rate, so the report says what
p99 a route has at 50, 100, 200 requests a second, not at some number of users.

- :class:`AlertCreator`: an officer creating drafts (``POST /api/alerts/alerts``), the write
  the issue's target is about;
- :class:`Reader`: a resident's reads in turn: inbox, the ward's feed, preferences.

Each user makes :data:`REQUESTS_PER_USER` requests a second (``REPLAY_STEP_RATE_PER_USER``).
"""

from __future__ import annotations

import itertools
import os

from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

from replay.locustfile import (
    DEFAULT_WARD,
    DEMO_OFFICER,
    DEMO_RESIDENT,
    START_ATTEMPTS,
    _credentials,
)

REQUESTS_PER_USER = float(os.environ.get("REPLAY_STEP_RATE_PER_USER", "5"))
_counter = itertools.count()


class _Stepped(FastHttpUser):
    abstract = True
    wait_time = constant_throughput(REQUESTS_PER_USER)
    credentials_variable = ""
    default_credentials = ""

    def on_start(self) -> None:
        self.headers: dict[str, str] = {}
        for _ in range(START_ATTEMPTS):
            response = self.client.post(
                "/api/identity/tokens",
                json=_credentials(self.credentials_variable, self.default_credentials),
                name="sign-in (once per user)",
            )
            if response.status_code == 200:
                self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
                return


class AlertCreator(_Stepped):
    credentials_variable = "REPLAY_OFFICER"
    default_credentials = DEMO_OFFICER

    @task
    def creates_a_draft(self) -> None:
        self.client.post(
            "/api/alerts/alerts",
            json={
                "headline": f"Load test {next(_counter)}: vehicle crime reported",
                "body": "Catalytic converters taken overnight. Park in lit areas.",
                "crime_type": "theft_from_motor_vehicle",
                "severity": "Minor",
                "target_ward_codes": [DEFAULT_WARD],
                "no_victim_details_confirmed": True,
            },
            headers=self.headers,
            name="/api/alerts/alerts",
        )


class Reader(_Stepped):
    credentials_variable = "REPLAY_RESIDENT"
    default_credentials = DEMO_RESIDENT

    def on_start(self) -> None:
        super().on_start()
        self._reads = itertools.cycle(
            [
                ("/api/dispatch/inbox?limit=20", "/api/dispatch/inbox", True),
                (
                    f"/api/alerts/feeds/wards/{DEFAULT_WARD}.json",
                    "/api/alerts/feeds/wards/{ward}",
                    False,
                ),
                ("/api/dispatch/preferences/me", "/api/dispatch/preferences/me", True),
            ]
        )

    @task
    def reads(self) -> None:
        path, name, signed_in = next(self._reads)
        self.client.get(path, headers=self.headers if signed_in else None, name=name)
