"""Approval by borough through the API: what each officer's sign-off shows, and who may give
it."""

from __future__ import annotations

import uuid

import httpx

from tests.alerts.helpers import create_alert
from tests.support.tokens import auth_header

CAMDEN = "E09000007"
ISLINGTON = "E09000019"
BELSIZE = "E05013652"  # Camden
ARSENAL = "E05013697"  # Islington


def officer_of(*boroughs: str) -> tuple[uuid.UUID, dict[str, str]]:
    member_id = uuid.uuid4()
    return member_id, auth_header(roles=["officer"], area_boroughs=boroughs, member_id=member_id)


class TestApprovalByBoroughEndpoints:
    async def test_a_cross_borough_draft_is_approved_by_both_boroughs(
        self, client: httpx.AsyncClient
    ) -> None:
        author = auth_header(roles=["partner"], area=[BELSIZE, ARSENAL])
        alert = await create_alert(client, author, target_ward_codes=[BELSIZE, ARSENAL])
        assert alert["touched_borough_codes"] == [CAMDEN, ISLINGTON]
        submitted = await client.post(f"/alerts/{alert['id']}/submit", headers=author)
        assert submitted.status_code == 200, submitted.text
        camden_id, camden = officer_of(CAMDEN)
        _islington_id, islington = officer_of(ISLINGTON)
        _outsider_id, outsider = officer_of("E09000033")

        refused = await client.post(f"/alerts/{alert['id']}/approve", headers=outsider)
        first = await client.post(f"/alerts/{alert['id']}/approve", headers=camden)
        early = await client.post(f"/alerts/{alert['id']}/publish", headers=camden)
        second = await client.post(f"/alerts/{alert['id']}/approve", headers=islington)
        published = await client.post(f"/alerts/{alert['id']}/publish", headers=camden)

        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert first.json()["status"] == "submitted"
        assert first.json()["approvals"][0]["officer_id"] == str(camden_id)
        assert first.json()["approvals"][0]["boroughs"] == [CAMDEN]
        assert early.status_code == 409
        assert second.json()["status"] == "approved"
        assert [a["boroughs"] for a in second.json()["approvals"]] == [[CAMDEN], [ISLINGTON]]
        assert published.status_code == 200, published.text
        listed = await client.get("/alerts", params={"borough_code": ISLINGTON}, headers=islington)
        assert alert["id"] in [a["id"] for a in listed.json()]
        audit = (await client.get(f"/alerts/{alert['id']}/audit", headers=camden)).json()
        assert [e["action"] for e in audit] == [
            "drafted",
            "submitted",
            "approved",
            "approved",
            "published",
        ]

    async def test_a_held_update_is_approved_through_its_own_id(
        self, client: httpx.AsyncClient
    ) -> None:
        _author_id, author = officer_of(CAMDEN)
        alert = await create_alert(client, author, target_ward_codes=[BELSIZE], severity="Extreme")
        await client.post(f"/alerts/{alert['id']}/submit", headers=author)
        await client.post(f"/alerts/{alert['id']}/approve", headers=officer_of(CAMDEN)[1])
        await client.post(f"/alerts/{alert['id']}/publish", headers=author)

        held = await client.post(
            f"/alerts/{alert['id']}/updates",
            json={"instruction": "Stay indoors.", "no_victim_details_confirmed": True},
            headers=author,
        )
        own = await client.post(f"/alerts/{held.json()['id']}/approve", headers=author)
        released = await client.post(
            f"/alerts/{held.json()['id']}/approve", headers=officer_of(CAMDEN)[1]
        )

        assert held.status_code == 201
        assert held.json()["status"] == "submitted"
        assert held.json()["release_state"] == "updated"
        assert own.status_code == 403
        assert released.status_code == 200, released.text
        assert released.json()["status"] == "published"
        original = (await client.get(f"/alerts/{alert['id']}", headers=author)).json()
        assert original["status"] == "updated"
