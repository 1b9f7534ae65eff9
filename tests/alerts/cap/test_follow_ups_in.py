"""CAP Updates and Cancels from another system, applied to the alert they reference: as
Tawny's own Update or Cancel, for the client's organisation or an officer of the area only."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.cap.document import CAP_MEDIA_TYPE, cap_datetime
from services.alerts.models import OutboxMessage
from shared.db import utcnow
from tests.alerts.helpers import officer_headers
from tests.support.tokens import auth_header

SENDER = "cad@met.police.uk"
BELSIZE = "E05013652"  # Camden
CAMDEN = "E09000007"


def client_headers(organisation: uuid.UUID) -> dict[str, str]:
    """An API client of another police system: no roles, an organisation and its area."""
    return auth_header(roles=[], area=[BELSIZE], scope="cap:write", org=organisation)


def cap(
    identifier: str,
    *,
    msg_type: str = "Alert",
    references: str | None = None,
    headline: str = "Robbery on the High Street",
    description: str = "A phone was taken at knifepoint.",
    severity: str = "Severe",
    sent: str | None = None,
    crime_type: str | None = "robbery",
) -> bytes:
    """A CAP message sent half an hour ago (unless ``sent`` says when) and expiring in 5 days."""
    sent = sent or cap_datetime(utcnow() - timedelta(minutes=30))
    expires = cap_datetime(utcnow() + timedelta(days=5))
    refs = f"<references>{references}</references>" if references else ""
    crime_type_parameter = (
        f"<parameter><valueName>tawny:crimeType</valueName><value>{crime_type}</value></parameter>"
        if crime_type
        else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>{identifier}</identifier><sender>{SENDER}</sender><sent>{sent}</sent>
<status>Actual</status><msgType>{msg_type}</msgType><scope>Public</scope>{refs}
<info><language>en-GB</language><category>Security</category><event>Robbery</event>
<urgency>Immediate</urgency><severity>{severity}</severity><certainty>Observed</certainty>
<expires>{expires}</expires><headline>{headline}</headline>
<description>{description}</description>
{crime_type_parameter}
<parameter><valueName>tawny:noVictimDetails</valueName><value>confirmed</value></parameter>
<area><areaDesc>Belsize</areaDesc>
<geocode><valueName>ONS_WARD</valueName><value>{BELSIZE}</value></geocode></area>
</info></alert>""".encode()


async def outbox_envelopes_for(
    sessions: async_sessionmaker[AsyncSession], alert_id: str
) -> list[dict[str, Any]]:
    """Every event staged about an alert or its follow-ups, oldest first."""
    content = OutboxMessage.envelope["payload"]["content"]
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(
                or_(
                    content["alert_id"].astext == alert_id, content["references"].astext == alert_id
                )
            )
            .order_by(OutboxMessage.position)
        )
        return [row.envelope for row in rows]


async def post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/alerts/cap", content=body, headers={**headers, "Content-Type": CAP_MEDIA_TYPE}
    )


async def published_from_cad(
    client: httpx.AsyncClient, organisation: uuid.UUID, **document: Any
) -> tuple[dict[str, Any], str]:
    """An alert received from the CAD system, approved and published by a Camden officer;
    and the reference that names it."""
    identifier = f"MPS-{uuid.uuid4().hex[:12]}"
    sent = cap_datetime(utcnow() - timedelta(minutes=30))
    received = await post(
        client, cap(identifier, sent=sent, **document), client_headers(organisation)
    )
    assert received.status_code == 201, received.text
    alert: dict[str, Any] = received.json()
    assert alert["status"] == "submitted"
    officers = [auth_header(roles=["officer"], area_boroughs=[CAMDEN]) for _ in range(2)]
    for officer in officers:
        approved = await client.post(f"/alerts/{alert['id']}/approve", headers=officer)
        if approved.json()["status"] == "approved":
            break
    published = await client.post(f"/alerts/{alert['id']}/publish", headers=officers[0])
    assert published.status_code == 200, published.text
    return alert, f"{SENDER},{identifier},{sent}"


def later_than(reference: str) -> str:
    """The sent time of a reference, an hour later."""
    sent = datetime.fromisoformat(reference.rsplit(",", 1)[1])
    return cap_datetime(sent + timedelta(hours=1))


class TestReceivedFollowUps:
    async def test_an_update_then_a_cancel_from_the_same_organisation(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        organisation = uuid.uuid4()
        alert, reference = await published_from_cad(client, organisation)
        update_id, update_sent = f"MPS-{uuid.uuid4().hex[:12]}", cap_datetime(utcnow())

        updated = await post(
            client,
            cap(
                update_id,
                msg_type="Update",
                references=reference,
                headline="Robbery: suspect seen on Mill Lane",
                sent=update_sent,
            ),
            client_headers(organisation),
        )

        assert updated.status_code == 201, updated.text
        update = updated.json()
        assert (update["msg_type"], update["references"]) == ("Update", alert["id"])
        assert (update["identifier"], update["sender"]) == (update_id, SENDER)
        assert update["status"] == "published"
        assert update["headline"] == "Robbery: suspect seen on Mill Lane"
        original = (await client.get(f"/alerts/{alert['id']}", headers=officer_headers())).json()
        assert original["status"] == "updated"

        # The Cancel names the Update; it applies to the alert the Update belongs to.
        cancelled = await post(
            client,
            cap(
                f"MPS-{uuid.uuid4().hex[:12]}",
                msg_type="Cancel",
                references=f"{SENDER},{update_id},{update_sent}",
                description="Sent in error.",
            ),
            client_headers(organisation),
        )

        assert cancelled.status_code == 201, cancelled.text
        assert cancelled.json()["msg_type"] == "Cancel"
        assert cancelled.json()["body"] == "Sent in error."
        original = (await client.get(f"/alerts/{alert['id']}", headers=officer_headers())).json()
        assert original["status"] == "cancelled"
        staged = await outbox_envelopes_for(sessions, alert["id"])
        assert [e["payload"]["content"]["msg_type"] for e in staged] == [
            "Alert",
            "Update",
            "Cancel",
        ]
        assert {e["payload"]["content"]["references"] for e in staged[1:]} == {alert["id"]}

        late_update = await post(
            client,
            cap(f"MPS-{uuid.uuid4().hex[:12]}", msg_type="Update", references=reference),
            client_headers(organisation),
        )
        assert late_update.status_code == 409

    async def test_an_update_naming_another_crime_type_moves_the_alert_and_a_silent_one_not(
        self, client: httpx.AsyncClient
    ) -> None:
        organisation = uuid.uuid4()
        alert, reference = await published_from_cad(client, organisation)
        named, silent = (f"MPS-{uuid.uuid4().hex[:12]}" for _ in range(2))

        renamed = await post(
            client,
            cap(named, msg_type="Update", references=reference, crime_type="theft_from_person"),
            client_headers(organisation),
        )
        # Without tawny:crimeType the type would only be derived: the alert keeps its own.
        kept = await post(
            client,
            cap(silent, msg_type="Update", references=reference, crime_type=None),
            client_headers(organisation),
        )

        assert renamed.status_code == 201, renamed.text
        assert (renamed.json()["crime_type"], renamed.json()["event"]) == (
            "theft_from_person",
            "Theft from the person",
        )
        assert kept.status_code == 201, kept.text
        assert kept.json()["crime_type"] == "theft_from_person"
        assert alert["crime_type"] == "robbery"

    async def test_unknown_or_malformed_references_are_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        organisation = uuid.uuid4()
        _alert, reference = await published_from_cad(client, organisation)
        headers = client_headers(organisation)

        unknown = await post(
            client,
            cap(
                "MPS-x1",
                msg_type="Update",
                references=f"{SENDER},MPS-never,{cap_datetime(utcnow())}",
            ),
            headers,
        )
        wrong_time = await post(
            client,
            cap(
                "MPS-x2",
                msg_type="Update",
                # The right sender and identifier, sent an hour later than the alert was.
                references=f"{reference.rsplit(',', 1)[0]},{later_than(reference)}",
            ),
            headers,
        )
        malformed = await post(
            client, cap("MPS-x3", msg_type="Cancel", references="no-commas-here"), headers
        )

        assert unknown.status_code == 422
        assert wrong_time.status_code == 422
        assert malformed.status_code == 400

    async def test_another_organisation_may_not_follow_up(self, client: httpx.AsyncClient) -> None:
        alert, reference = await published_from_cad(client, uuid.uuid4())

        response = await post(
            client,
            cap(f"MPS-{uuid.uuid4().hex[:12]}", msg_type="Cancel", references=reference),
            client_headers(uuid.uuid4()),
        )

        assert response.status_code == 403
        original = (await client.get(f"/alerts/{alert['id']}", headers=officer_headers())).json()
        assert original["status"] == "published"

    async def test_an_officer_client_of_the_area_may_follow_up(
        self, client: httpx.AsyncClient
    ) -> None:
        _alert, reference = await published_from_cad(client, uuid.uuid4())
        officer_client = auth_header(roles=["officer"], area_boroughs=[CAMDEN], scope="cap:write")

        response = await post(
            client,
            cap(f"MPS-{uuid.uuid4().hex[:12]}", msg_type="Cancel", references=reference),
            officer_client,
        )

        assert response.status_code == 201, response.text

    async def test_an_update_of_an_extreme_alert_waits_for_two_officers(
        self, client: httpx.AsyncClient
    ) -> None:
        organisation = uuid.uuid4()
        alert, reference = await published_from_cad(client, organisation, severity="Extreme")

        held = await post(
            client,
            cap(
                f"MPS-{uuid.uuid4().hex[:12]}",
                msg_type="Update",
                references=reference,
                severity="Extreme",
            ),
            client_headers(organisation),
        )

        assert held.status_code == 201, held.text
        assert held.json()["status"] == "submitted"
        for _ in range(2):
            approved = await client.post(
                f"/alerts/{held.json()['id']}/approve",
                headers=auth_header(roles=["officer"], area_boroughs=[CAMDEN]),
            )
            assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "published"
        original = (await client.get(f"/alerts/{alert['id']}", headers=officer_headers())).json()
        assert original["status"] == "updated"

    async def test_the_same_message_is_not_applied_twice(self, client: httpx.AsyncClient) -> None:
        organisation = uuid.uuid4()
        _alert, reference = await published_from_cad(client, organisation)
        document = cap(f"MPS-{uuid.uuid4().hex[:12]}", msg_type="Update", references=reference)

        first = await post(client, document, client_headers(organisation))
        second = await post(client, document, client_headers(organisation))

        assert first.status_code == 201
        assert second.status_code == 409
