"""Suspension across the platform: a platform admin suspends a resident whose access token is
still valid. Alerts refuses their replies and marks, geo's audience preview no longer counts
them, and dispatch sends them nothing of an alert published meanwhile, which a neighbour
watching the same ward receives. Reinstated, they receive the next alert and may mark it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from deploy.devstack import DEMO_ADMIN, DEMO_OFFICER, SHARED_LONDON_DATA, DevStack
from shared.db import build_engine
from tests.e2e.test_alert_path import (
    bearer,
    eventually,
    log_in,
    messages_to,
    sign_up_and_verify,
    two_wards,
)
from tests.e2e.test_erasure import letter_code

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (SHARED_LONDON_DATA / "postcodes.csv").is_file(),
        reason="identity's address lookup needs the London postcodes file",
    ),
]


async def publish_alert(
    gateway: httpx.AsyncClient, officer: dict[str, str], ward: str, headline: str
) -> str:
    created = await gateway.post(
        "/api/alerts/alerts",
        json={
            "headline": headline,
            "body": "Keep bags zipped on the high street.",
            "crime_type": "theft_from_person",
            "severity": "Moderate",
            "urgency": "Expected",
            "target_ward_codes": [ward],
            "no_victim_details_confirmed": True,
        },
        headers=officer,
    )
    assert created.status_code == 201, created.text
    alert_id: str = created.json()["id"]
    published = await gateway.post(f"/api/alerts/alerts/{alert_id}/publish", headers=officer)
    assert published.status_code == 200, published.text
    return alert_id


async def dispatch_knows_suspended(platform: DevStack, member_id: str) -> bool:
    """Whether dispatch's consumer has recorded the suspension (nothing in its API says)."""
    engine = build_engine(platform.database_urls["dispatch"], application_name="e2e-suspension")
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT count(*) FROM suspended_members WHERE member_id = :id"),
                {"id": uuid.UUID(member_id)},
            )
            return bool(found)
    finally:
        await engine.dispose()


class TestSuspensionEverywhere:
    async def test_a_suspended_member_gets_nothing_and_may_do_nothing_until_reinstated(
        self, platform: DevStack, gateway: httpx.AsyncClient, mailbox: httpx.AsyncClient
    ) -> None:
        run = uuid.uuid4().hex[:10]
        password = "correct horse battery"
        email, neighbour = f"suspended-{run}@example.org", f"neighbour-{run}@example.org"
        token = await sign_up_and_verify(gateway, mailbox, email, password)
        member_id = (await gateway.get("/api/identity/members/me", headers=bearer(token))).json()[
            "member_id"
        ]
        letter = await gateway.post(
            "/api/identity/members/me/address/letter",
            json={
                "name": f"Sam Suspended{run}",
                "address_lines": [f"{run} Whitehall"],
                "postcode": "SW1A 1AA",
            },
            headers=bearer(token),
        )
        assert letter.status_code == 202, letter.text
        confirmed = await gateway.post(
            "/api/identity/members/me/address/confirmation",
            json={"code": await letter_code(platform, member_id)},
            headers=bearer(token),
        )
        assert confirmed.status_code == 200, confirmed.text
        # A token with the verified address, still valid after the suspension (15 minutes).
        resident = bearer(await log_in(gateway, email, password))
        neighbour_token = await sign_up_and_verify(gateway, mailbox, neighbour, password)
        ward, _other = await two_wards(gateway)
        for headers in (resident, bearer(neighbour_token)):
            watched = await gateway.post(
                "/api/geo/subscriptions", json={"ward_code": ward}, headers=headers
            )
            assert watched.status_code == 201, watched.text
        officer = bearer(await log_in(gateway, *DEMO_OFFICER))
        admin = bearer(await log_in(gateway, *DEMO_ADMIN))

        async def audience() -> int:
            response = await gateway.post(
                "/api/geo/audience/preview",
                json={"target": {"ward_codes": [ward]}},
                headers=officer,
            )
            assert response.status_code == 200, response.text
            count: int = response.json()["recipients"]
            return count

        counted = await audience()
        before = await publish_alert(gateway, officer, ward, f"Bag thefts ({run}) one")

        async def got(address: str, headline: str) -> list[dict[str, Any]]:
            return [m for m in await messages_to(mailbox, address) if headline in m["subject"]]

        await eventually(lambda: got(email, f"Bag thefts ({run}) one"))

        suspended = await gateway.post(
            f"/api/identity/members/{member_id}/suspension",
            json={"reason": "Posting members' addresses"},
            headers=admin,
        )
        assert suspended.status_code == 200, suspended.text

        async def mark_refused() -> bool:
            response = await gateway.put(
                f"/api/alerts/alerts/{before}/usefulness", json={"useful": True}, headers=resident
            )
            return response.status_code == 403

        async def left_out_of_the_preview() -> bool:
            return await audience() == counted - 1

        await eventually(mark_refused)
        reply = await gateway.post(
            f"/api/alerts/alerts/{before}/replies", json={"text": "Hello"}, headers=resident
        )
        assert reply.status_code == 403, reply.text
        await eventually(left_out_of_the_preview)
        await eventually(lambda: dispatch_knows_suspended(platform, member_id))

        meanwhile = f"Bag thefts ({run}) two"
        await publish_alert(gateway, officer, ward, meanwhile)
        await eventually(lambda: got(neighbour, meanwhile))
        assert await got(email, meanwhile) == []

        reinstated = await gateway.delete(
            f"/api/identity/members/{member_id}/suspension", headers=admin
        )
        assert reinstated.status_code == 204, reinstated.text

        async def dispatch_forgot_the_suspension() -> bool:
            return not await dispatch_knows_suspended(platform, member_id)

        await eventually(dispatch_forgot_the_suspension)
        after = f"Bag thefts ({run}) three"
        await publish_alert(gateway, officer, ward, after)
        await eventually(lambda: got(email, after))
        # Sign-in works again, and so do marks.
        again = bearer(await log_in(gateway, email, password))

        async def mark_allowed() -> bool:
            response = await gateway.put(
                f"/api/alerts/alerts/{before}/usefulness", json={"useful": True}, headers=again
            )
            return response.status_code == 204

        await eventually(mark_allowed)
        assert await got(email, meanwhile) == []
