"""The running app's scheduler publishes a scheduled alert when its time comes."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import utcnow
from tests.alerts.helpers import create_alert, officer_headers, outbox_envelopes
from tests.support.waiting import eventually


async def test_a_scheduled_alert_goes_out_at_its_time(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = officer_headers()
    alert = await create_alert(client, headers)
    # Far enough ahead that the request arrives before it, even on a loaded machine.
    publish_at = utcnow() + timedelta(seconds=5)

    scheduled = await client.post(
        f"/alerts/{alert['id']}/schedule",
        json={"publish_at": publish_at.isoformat()},
        headers=headers,
    )

    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    assert await outbox_envelopes(sessions, alert["id"]) == []

    async def published() -> bool:
        alert_now = (await client.get(f"/alerts/{alert['id']}", headers=headers)).json()
        return bool(alert_now["status"] == "published")

    await eventually(published, interval_s=0.25)
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
