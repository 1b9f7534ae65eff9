"""Feeds follow what a target touches: a ward's feed shows alerts for its whole borough and
shapes over it; a borough's feed shows alerts for its wards (real ONS wards)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.alerts.helpers import create_alert
from tests.alerts.images.pictures import photo
from tests.support.tokens import auth_header

CAMDEN = "E09000007"
CITY = "E09000001"
BELSIZE = "E05013652"  # Camden
BLOOMSBURY = "E05013653"  # Camden
ARSENAL = "E05013697"  # Islington
ALDERSGATE = "E05009288"  # City of London
BASSISHAW = "E05009290"  # City of London, beside Aldersgate
CITY_CIRCLE = {"lat": 51.5172, "lon": -0.0935, "radius_km": 0.2}


async def publish(client: httpx.AsyncClient, borough: str, **fields: object) -> str:
    headers = auth_header(roles=["officer"], area_boroughs=[borough])
    alert = await create_alert(client, headers, **fields)
    response = await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
    assert response.status_code == 200, response.text
    return str(alert["id"])


async def feed_ids(client: httpx.AsyncClient, path: str) -> list[str]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return [item["id"].removeprefix("urn:uuid:") for item in body["items"]]


class TestFeedsByWhatTheTargetTouches:
    async def test_a_ward_feed_shows_alerts_for_its_whole_borough(
        self, client: httpx.AsyncClient
    ) -> None:
        alert_id = await publish(
            client, CAMDEN, target_ward_codes=[], target_borough_codes=[CAMDEN]
        )

        assert alert_id in await feed_ids(client, f"/feeds/wards/{BELSIZE}.json")
        assert alert_id in await feed_ids(client, f"/feeds/wards/{BLOOMSBURY}.json")
        assert alert_id not in await feed_ids(client, f"/feeds/wards/{ARSENAL}.json")

    async def test_a_borough_feed_shows_alerts_for_its_wards(
        self, client: httpx.AsyncClient
    ) -> None:
        alert_id = await publish(client, CAMDEN, target_ward_codes=[BELSIZE])

        assert alert_id in await feed_ids(client, f"/feeds/boroughs/{CAMDEN}.json")
        assert alert_id not in await feed_ids(client, f"/feeds/boroughs/{CITY}.json")
        assert alert_id not in await feed_ids(client, f"/feeds/wards/{BLOOMSBURY}.json")

    async def test_a_circle_reaches_the_feeds_of_the_wards_under_it(
        self, client: httpx.AsyncClient
    ) -> None:
        alert_id = await publish(
            client, CITY, target_ward_codes=[ALDERSGATE], target_circles=[CITY_CIRCLE]
        )

        assert alert_id in await feed_ids(client, f"/feeds/wards/{BASSISHAW}.json")
        assert alert_id in await feed_ids(client, f"/feeds/boroughs/{CITY}.json")
        assert alert_id not in await feed_ids(client, f"/feeds/wards/{BELSIZE}.json")
        atom = await client.get(f"/feeds/wards/{BASSISHAW}.atom")
        assert alert_id in atom.text

    async def test_an_alerts_pictures_travel_with_it_in_both_feeds(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = auth_header(roles=["officer"], area_boroughs=[CAMDEN])
        alert = await create_alert(client, headers, target_ward_codes=[BLOOMSBURY])
        uploaded = await client.post(
            f"/alerts/{alert['id']}/images",
            files={"file": ("van.png", photo("PNG"), "image/png")},
            data={"description": "The van"},
            headers=headers,
        )
        assert uploaded.status_code == 201, uploaded.text
        await client.post(f"/alerts/{alert['id']}/publish", headers=headers)

        feed = (await client.get(f"/feeds/wards/{BLOOMSBURY}.json")).json()
        atom = (await client.get(f"/feeds/wards/{BLOOMSBURY}.atom")).text

        (item,) = [i for i in feed["items"] if i["id"] == f"urn:uuid:{alert['id']}"]
        assert item["image"] == uploaded.json()["url"]
        assert item["attachments"] == [
            {
                "url": uploaded.json()["url"],
                "mime_type": "image/png",
                "title": "The van",
                "size_in_bytes": uploaded.json()["size_bytes"],
            }
        ]
        assert 'rel="enclosure"' in atom and uploaded.json()["url"] in atom
