"""Members' replies and usefulness marks, the team's inbox, and per-alert stats."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
from PIL import Image

from tests.alerts.helpers import create_alert, officer_headers
from tests.alerts.images.pictures import GPS_IFD, SECRET, gif, photo
from tests.support.tokens import auth_header


def member(pseudonym: str = "Neighbour 4321", vl: str = "address") -> dict[str, str]:
    return auth_header(roles=["resident"], member_id=uuid.uuid4(), pseudonym=pseudonym, vl=vl)


async def published(client: httpx.AsyncClient) -> dict[str, Any]:
    headers = officer_headers()
    alert = await create_alert(client, headers)
    response = await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
    assert response.status_code == 200, response.text
    return alert


class TestUsefulness:
    async def test_marks_are_counted_once_per_member_and_can_change(
        self, client: httpx.AsyncClient
    ) -> None:
        alert = await published(client)
        first, second = member(), member()

        for headers, useful in ((first, True), (first, False), (second, True)):
            response = await client.put(
                f"/alerts/{alert['id']}/usefulness", json={"useful": useful}, headers=headers
            )
            assert response.status_code == 204, response.text

        stats = (await client.get(f"/alerts/{alert['id']}/stats", headers=officer_headers())).json()
        assert (stats["useful"], stats["not_useful"]) == (1, 1)

    async def test_a_draft_cannot_be_marked(self, client: httpx.AsyncClient) -> None:
        draft = await create_alert(client)

        response = await client.put(
            f"/alerts/{draft['id']}/usefulness", json={"useful": True}, headers=member()
        )

        assert response.status_code == 404


class TestReplies:
    async def test_a_reply_reaches_the_inbox_with_the_pseudonym_only_and_staff_answer(
        self, client: httpx.AsyncClient
    ) -> None:
        alert = await published(client)
        resident = member("Neighbour 0001")

        sent = await client.post(
            f"/alerts/{alert['id']}/replies",
            json={"text": "I saw a grey van at 2am."},
            headers=resident,
        )

        assert sent.status_code == 201, sent.text
        inbox = await client.get(f"/alerts/{alert['id']}/replies", headers=officer_headers())
        (reply,) = inbox.json()
        assert reply["member_pseudonym"] == "Neighbour 0001"
        assert "member_id" not in reply
        answered = await client.post(
            f"/alerts/{alert['id']}/replies/{reply['id']}/answer",
            json={"text": "Thank you."},
            headers=officer_headers(pseudonym="PC Owl"),
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["answered_by_pseudonym"] == "PC Owl"
        again = await client.post(
            f"/alerts/{alert['id']}/replies/{reply['id']}/answer",
            json={"text": "Again."},
            headers=officer_headers(),
        )
        assert again.status_code == 409
        stats = (await client.get(f"/alerts/{alert['id']}/stats", headers=officer_headers())).json()
        assert (stats["replies"], stats["replies_answered"]) == (1, 1)

    async def test_a_reply_to_an_update_attaches_to_the_original(
        self, client: httpx.AsyncClient
    ) -> None:
        alert = await published(client)
        update = await client.post(
            f"/alerts/{alert['id']}/updates",
            json={"instruction": "Stay indoors.", "no_victim_details_confirmed": True},
            headers=officer_headers(),
        )

        sent = await client.post(
            f"/alerts/{update.json()['id']}/replies", json={"text": "Thanks"}, headers=member()
        )

        assert sent.json()["alert_id"] == alert["id"]
        stats = (await client.get(f"/alerts/{alert['id']}/stats", headers=officer_headers())).json()
        assert stats["follow_ups"] == 1

    async def test_replies_are_rate_limited_per_member(self, client: httpx.AsyncClient) -> None:
        alert = await published(client)
        resident = member()
        url = f"/alerts/{alert['id']}/replies"

        for number in range(5):
            response = await client.post(url, json={"text": f"Note {number}"}, headers=resident)
            assert response.status_code == 201, response.text
        limited = await client.post(url, json={"text": "One more"}, headers=resident)
        other = await client.post(url, json={"text": "Mine"}, headers=member())

        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "600"
        assert other.status_code == 201

    async def test_too_long_or_anonymous_replies_are_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        alert = await published(client)
        url = f"/alerts/{alert['id']}/replies"

        assert (
            await client.post(url, json={"text": "x" * 1001}, headers=member())
        ).status_code == 422
        assert (await client.post(url, json={"text": "hello"})).status_code == 401

    async def test_residents_cannot_read_the_inbox(self, client: httpx.AsyncClient) -> None:
        alert = await published(client)

        response = await client.get(f"/alerts/{alert['id']}/replies", headers=member())

        assert response.status_code == 403


class TestReplyRequirementsAndPhotos:
    async def test_a_member_without_a_verified_address_may_not_reply(
        self, client: httpx.AsyncClient
    ) -> None:
        alert = await published(client)

        response = await client.post(
            f"/alerts/{alert['id']}/replies", json={"text": "hello"}, headers=member(vl="email")
        )

        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        inbox = await client.get(f"/alerts/{alert['id']}/replies", headers=officer_headers())
        assert inbox.json() == []

    async def test_a_member_with_a_verified_identity_may_reply(
        self, client: httpx.AsyncClient
    ) -> None:
        alert = await published(client)

        response = await client.post(
            f"/alerts/{alert['id']}/replies", json={"text": "hi"}, headers=member(vl="identity")
        )

        assert response.status_code == 201

    async def test_a_photo_reaches_the_team_without_its_gps_position(
        self, client: httpx.AsyncClient
    ) -> None:
        alert = await published(client)
        resident = member()
        reply = (
            await client.post(
                f"/alerts/{alert['id']}/replies", json={"text": "The van"}, headers=resident
            )
        ).json()
        url = f"/alerts/{alert['id']}/replies/{reply['id']}/photo"
        original = photo("JPEG")
        assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)

        attached = await client.post(
            url, files={"file": ("van.jpg", original, "image/jpeg")}, headers=resident
        )

        assert attached.status_code == 204, attached.text
        again = await client.post(
            url, files={"file": ("van.jpg", original, "image/jpeg")}, headers=resident
        )
        assert again.status_code == 409
        served = await client.get(url, headers=officer_headers())
        assert served.status_code == 200
        assert SECRET.encode() not in served.content
        stored = Image.open(io.BytesIO(served.content))
        assert dict(stored.getexif()) == {}
        assert not stored.getexif().get_ifd(GPS_IFD)
        assert (await client.get(url, headers=resident)).status_code == 403
        inbox = await client.get(f"/alerts/{alert['id']}/replies", headers=officer_headers())
        assert [r["has_photo"] for r in inbox.json()] == [True]

    async def test_only_the_replys_writer_attaches_and_hostile_files_are_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        alert = await published(client)
        resident = member()
        reply = (
            await client.post(
                f"/alerts/{alert['id']}/replies", json={"text": "x"}, headers=resident
            )
        ).json()
        url = f"/alerts/{alert['id']}/replies/{reply['id']}/photo"

        someone_else = await client.post(
            url, files={"file": ("a.jpg", photo(), "image/jpeg")}, headers=member()
        )
        not_a_picture = await client.post(
            url, files={"file": ("a.gif", gif(), "image/gif")}, headers=resident
        )

        assert someone_else.status_code == 404
        assert not_a_picture.status_code == 415
        assert (await client.get(url, headers=officer_headers())).status_code == 404
