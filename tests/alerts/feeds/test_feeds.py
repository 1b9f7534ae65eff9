"""The public Atom and JSON feeds of live alerts per ward and per borough."""

from __future__ import annotations

import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
import httpx

from tests.alerts.helpers import create_alert, unique_borough_code, unique_ward_code
from tests.support.tokens import auth_header

ATOM = "{http://www.w3.org/2005/Atom}"


def borough_code() -> str:
    return unique_borough_code()


async def publish(client: httpx.AsyncClient, headers: dict[str, str], **fields: object) -> str:
    alert = await create_alert(client, headers, **fields)
    response = await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
    assert response.status_code == 200, response.text
    return str(alert["id"])


class TestFeeds:
    async def test_a_ward_feed_lists_live_alerts_as_their_latest_message(
        self, client: httpx.AsyncClient
    ) -> None:
        ward = unique_ward_code()
        headers = auth_header(roles=["officer"], area=[ward])
        alert_id = await publish(client, headers, target_ward_codes=[ward], headline="First")
        draft = await create_alert(client, headers, target_ward_codes=[ward])
        update = await client.post(
            f"/alerts/{alert_id}/updates",
            json={"headline": "Second", "no_victim_details_confirmed": True},
            headers=headers,
        )

        feed = (await client.get(f"/feeds/wards/{ward}.json")).json()

        assert [item["id"] for item in feed["items"]] == [f"urn:uuid:{alert_id}"]
        item = feed["items"][0]
        assert item["title"] == "Second"
        assert item["url"].endswith(f"/alerts/{update.json()['id']}/cap")
        assert item["_cap"]["msg_type"] == "Update"
        assert draft["id"] not in str(feed)

    async def test_a_borough_atom_feed_and_cancellation_removes_the_alert(
        self, client: httpx.AsyncClient
    ) -> None:
        borough = borough_code()
        headers = auth_header(roles=["officer"], area_boroughs=[borough])
        alert_id = await publish(
            client, headers, target_ward_codes=[], target_borough_codes=[borough]
        )

        response = await client.get(f"/feeds/boroughs/{borough}.atom")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        feed = SafeET.fromstring(response.content)
        entries = feed.findall(f"{ATOM}entry")
        assert [e.findtext(f"{ATOM}id") for e in entries] == [f"urn:uuid:{alert_id}"]
        cancelled = await client.post(
            f"/alerts/{alert_id}/cancel", json={"reason": "Sent in error."}, headers=headers
        )
        assert cancelled.status_code == 201
        after = (await client.get(f"/feeds/boroughs/{borough}.json")).json()
        assert after["items"] == []

    async def test_restricted_alerts_stay_out_of_public_feeds(
        self, client: httpx.AsyncClient
    ) -> None:
        ward = unique_ward_code()
        headers = auth_header(roles=["officer"], area=[ward])
        await publish(client, headers, target_ward_codes=[ward], audience="coordinators")

        feed = (await client.get(f"/feeds/wards/{ward}.json")).json()

        assert feed["items"] == []

    async def test_a_bad_code_is_422(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/feeds/boroughs/E05000001.json")).status_code == 422
        assert (await client.get("/feeds/wards/nonsense.atom")).status_code == 422
