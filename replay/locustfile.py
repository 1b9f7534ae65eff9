"""Locust users for Tawny's public API, through the gateway.

    locust -f replay/locustfile.py --host http://127.0.0.1:8000   # the web UI
    python -m replay.api_load                                     # headless, writes JSON

Residents sign in, read their inbox and an alert in it, their ward's feeds and their
preferences; officers draft an alert with an audience preview and publish it. The accounts are
the dev stack's demo officer and resident (``REPLAY_OFFICER`` and ``REPLAY_RESIDENT`` give
others, as ``email:password``); the ward is the resident's first watched ward, else the first.
Each request is named by its route, not its URL, so the report has one row per route.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from locust import HttpUser, between, task

DEMO_OFFICER = "officer@demo.tawny.london:demo-officer-password"
DEMO_RESIDENT = "resident@demo.tawny.london:demo-resident-password"
# The first ward of the London set: used until the ward listing answers.
DEFAULT_WARD = "E05009288"
START_ATTEMPTS = 3
_counter = itertools.count()


def _credentials(variable: str, default: str) -> dict[str, str]:
    email, _, password = os.environ.get(variable, default).partition(":")
    return {"email": email, "password": password}


class _SignedIn(HttpUser):
    abstract = True
    credentials_variable = ""
    default_credentials = ""

    def on_start(self) -> None:
        self.headers: dict[str, str] = {}
        self.ward_code = DEFAULT_WARD
        for _ in range(START_ATTEMPTS):
            if self.sign_in():
                break
        wards = self.client.get("/api/geo/wards", params={"limit": 1}, name="/api/geo/wards")
        if wards.ok:
            listing: Any = wards.json()
            first = listing[0] if isinstance(listing, list) else listing["items"][0]
            self.ward_code = first["code"]

    def sign_in(self) -> bool:
        """A failed sign-in counts as an error of its route; the user carries on with the old
        token (or none), so the failures show where they happen instead of stopping the user."""
        response = self.client.post(
            "/api/identity/tokens",
            json=_credentials(self.credentials_variable, self.default_credentials),
            name="/api/identity/tokens",
        )
        if response.status_code != 200:
            return False
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return True


class Resident(_SignedIn):
    weight = 9
    wait_time = between(0.5, 2.0)
    credentials_variable = "REPLAY_RESIDENT"
    default_credentials = DEMO_RESIDENT

    @task(1)
    def signs_in(self) -> None:
        self.sign_in()

    @task(5)
    def reads_inbox_and_an_alert(self) -> None:
        inbox = self.client.get(
            "/api/dispatch/inbox", params={"limit": 20}, headers=self.headers,
            name="/api/dispatch/inbox",
        )  # fmt: skip
        entries: Any = inbox.json() if inbox.ok else []
        items = entries if isinstance(entries, list) else entries.get("items", [])
        if items:
            alert_id = items[0].get("alert_id") or items[0].get("id")
            self.client.get(
                f"/api/dispatch/inbox/{alert_id}", headers=self.headers,
                name="/api/dispatch/inbox/{alert_id}",
            )  # fmt: skip

    @task(3)
    def reads_the_ward_feed(self) -> None:
        self.client.get(
            f"/api/alerts/feeds/wards/{self.ward_code}.json", name="/api/alerts/feeds/wards/{ward}"
        )

    @task(2)
    def reads_preferences(self) -> None:
        self.client.get(
            "/api/dispatch/preferences/me", headers=self.headers,
            name="/api/dispatch/preferences/me",
        )  # fmt: skip


class Officer(_SignedIn):
    weight = 1
    wait_time = between(1.0, 3.0)
    credentials_variable = "REPLAY_OFFICER"
    default_credentials = DEMO_OFFICER

    @task
    def drafts_previews_and_publishes(self) -> None:
        number = next(_counter)
        draft = {
            "headline": f"Load test {number}: vehicle crime reported",
            "body": "Catalytic converters taken overnight. Park in lit areas.",
            "crime_type": "theft_from_motor_vehicle",
            "severity": "Minor",
            "target_ward_codes": [self.ward_code],
            "no_victim_details_confirmed": True,
        }
        self.client.post(
            "/api/geo/audience/preview",
            json={
                "target": {"ward_codes": [self.ward_code]},
                "category": "theft_from_motor_vehicle",
            },
            headers=self.headers,
            name="/api/geo/audience/preview",
        )
        self.client.post(
            "/api/alerts/alerts/preview", json=draft, headers=self.headers,
            name="/api/alerts/alerts/preview",
        )  # fmt: skip
        created = self.client.post(
            "/api/alerts/alerts", json=draft, headers=self.headers, name="/api/alerts/alerts"
        )
        if created.status_code == 201:
            self.client.post(
                f"/api/alerts/alerts/{created.json()['id']}/publish", headers=self.headers,
                name="/api/alerts/alerts/{id}/publish",
            )  # fmt: skip
