"""Locust users at a fixed request rate, for ``python -m replay.api_load --steps``: each step
runs one of these classes with enough users for the step's rate, so the report says what
p99 a route has at 50, 100, 200 requests a second, not at some number of users.

- :class:`AlertCreator`: an officer creating drafts (``POST /api/alerts/alerts``), the write
  the issue's target is about;
- :class:`Reader`: a resident's reads in turn: inbox, the ward's feed, preferences.

Each user makes :data:`REQUESTS_PER_USER` requests a second (``REPLAY_STEP_RATE_PER_USER``).
Every user of a kind is the same demo member, so the step signs in once per kind before its
users start (:func:`sign_in_before_the_step`): a step measures its route at a steady rate, not
a crowd of argon2id hashes at its first second.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import httpx
from locust import constant_throughput, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

from replay.locustfile import (
    DEFAULT_WARD,
    DEMO_OFFICER,
    DEMO_RESIDENT,
    START_ATTEMPTS,
    _credentials,
)

REQUESTS_PER_USER = float(os.environ.get("REPLAY_STEP_RATE_PER_USER", "5"))
_counter = itertools.count()
# The access token of each kind of user, by class name, taken before the step's users start.
_tokens: dict[str, str] = {}


class _Stepped(FastHttpUser):
    abstract = True
    wait_time = constant_throughput(REQUESTS_PER_USER)
    credentials_variable = ""
    default_credentials = ""

    def on_start(self) -> None:
        token = _tokens.get(type(self).__name__)
        self.headers: dict[str, str] = {"Authorization": f"Bearer {token}"} if token else {}


def sign_in_before_the_step(environment: Environment, **_: Any) -> None:
    """One sign-in per kind of user, outside Locust's statistics; a kind whose sign-in fails
    runs without a token, so its 401s show in the step's errors."""
    for user_class in environment.user_classes:
        if not issubclass(user_class, _Stepped):
            continue
        credentials = _credentials(user_class.credentials_variable, user_class.default_credentials)
        for _attempt in range(START_ATTEMPTS):
            response = httpx.post(
                f"{environment.host}/api/identity/tokens", json=credentials, timeout=30
            )
            if response.status_code == 200:
                _tokens[user_class.__name__] = response.json()["access_token"]
                break


# Locust's event hooks are untyped.
events.test_start.add_listener(sign_in_before_the_step)  # type: ignore[no-untyped-call]


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
