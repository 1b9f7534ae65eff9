"""The running app's scheduler publishes a scheduled alert when its time comes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import utcnow
from tests.alerts.helpers import create_alert, officer_headers, outbox_envelopes


async def test_a_scheduled_alert_goes_out_at_its_time(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = officer_headers()
    alert = await create_alert(client, headers)
    publish_at = utcnow() + timedelta(seconds=1)

    scheduled = await client.post(
        f"/alerts/{alert['id']}/schedule",
        json={"publish_at": publish_at.isoformat()},
        headers=headers,
    )

    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    assert await outbox_envelopes(sessions, alert["id"]) == []
    status = "scheduled"
    for _ in range(40):
        await asyncio.sleep(0.25)
        status = (await client.get(f"/alerts/{alert['id']}", headers=headers)).json()["status"]
        if status == "published":
            break
    assert status == "published"
    assert len(await outbox_envelopes(sessions, alert["id"])) == 1
    audit = (await client.get(f"/alerts/{alert['id']}/audit", headers=headers)).json()
    assert [entry["action"] for entry in audit] == ["drafted", "scheduled", "published"]
    assert audit[-1]["actor_id"] is None


async def test_a_time_in_the_past_is_refused(client: httpx.AsyncClient) -> None:
    headers = officer_headers()
    alert = await create_alert(client, headers)

    response = await client.post(
        f"/alerts/{alert['id']}/schedule",
        json={"publish_at": (utcnow() - timedelta(minutes=1)).isoformat()},
        headers=headers,
    )

    assert response.status_code == 422
