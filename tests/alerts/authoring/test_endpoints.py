"""The authoring API in-process, on real PostgreSQL and Kafka, with real token signatures."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.authoring.endpoints import MAX_PAGE_SIZE
from services.alerts.config import AlertsSettings
from shared.errors import PROBLEM_JSON
from shared.events import AlertPublished, EventEnvelope, Topic
from tests.alerts.conftest import SENDER_NAME, TEST_WARD_COUNT, TEST_WARD_PREFIX
from tests.alerts.helpers import (
    alert_request,
    create_alert,
    officer_headers,
    outbox_envelopes,
    read_alert_events,
    unique_ward_code,
)
from tests.support.tokens import auth_header, make_token

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    if slug is not None:
        assert problem["type"] == f"https://tawny.london/problems/{slug}"
    return problem


class TestCreateAlert:
    async def test_officer_creates_a_draft_signed_with_their_member_id_and_pseudonym(
        self, client: httpx.AsyncClient
    ) -> None:
        member_id = uuid.uuid4()
        ward_codes = [unique_ward_code(), unique_ward_code()]
        request = alert_request(
            crime_type="theft_from_motor_vehicle",
            severity="Severe",
            urgency="Immediate",
            target_ward_codes=ward_codes,
        )

        response = await client.post(
            "/alerts",
            json=request,
            headers=officer_headers(member_id=member_id, pseudonym="PC Barn Owl"),
        )

        assert response.status_code == 201, response.text
        alert = response.json()
        assert alert["status"] == "draft"
        assert alert["msg_type"] == "Alert"
        assert alert["headline"] == request["headline"]
        assert alert["body"] == request["body"]
        assert alert["crime_type"] == "theft_from_motor_vehicle"
        assert (alert["severity"], alert["urgency"]) == ("Severe", "Immediate")
        assert alert["target_ward_codes"] == ward_codes
        assert alert["author_id"] == str(member_id)
        assert alert["author_pseudonym"] == "PC Barn Owl"
        assert alert["published_at"] is None
        assert datetime.fromisoformat(alert["created_at"]).tzinfo is not None
        fetched = await client.get(f"/alerts/{alert['id']}", headers=officer_headers())
        assert fetched.json() == alert

    async def test_severity_and_urgency_default_to_moderate_and_expected(
        self, client: httpx.AsyncClient
    ) -> None:
        alert = await create_alert(client)

        assert (alert["severity"], alert["urgency"]) == ("Moderate", "Expected")

    async def test_admin_may_create_too(self, client: httpx.AsyncClient) -> None:
        alert = await create_alert(client, headers=officer_headers(role="admin"))

        assert alert["status"] == "draft"

    async def test_surrounding_whitespace_is_trimmed(self, client: httpx.AsyncClient) -> None:
        alert = await create_alert(client, headline="  Road closed at the bridge  ")

        assert alert["headline"] == "Road closed at the bridge"

    async def test_a_thousand_ward_codes_are_accepted(self, client: httpx.AsyncClient) -> None:
        # The tests' own wards (the contract refuses codes the boundary set lacks), from the
        # end of their range, which unique_ward_code reaches last.
        codes = [
            f"{TEST_WARD_PREFIX}{number:08d}"
            for number in range(TEST_WARD_COUNT - 1000, TEST_WARD_COUNT)
        ]

        alert = await create_alert(client, target_ward_codes=codes)

        assert alert["target_ward_codes"] == codes

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("headline", ""),
            ("headline", "   "),
            ("headline", "x" * 161),
            ("headline", "Subject\r\nBcc: everyone@example.com"),
            ("body", ""),
            ("body", "x" * 5001),
            ("body", "nul \x00 byte"),
            ("crime_type", "jaywalking"),
            ("severity", "moderate"),
            ("urgency", "Soon"),
            ("target_ward_codes", ["e05000001"]),
            ("target_ward_codes", ["E0500001"]),
            ("target_ward_codes", ["E050000012"]),
            ("target_ward_codes", ["E05000001", "E05000001"]),
            ("target_ward_codes", [f"E05{number:06d}" for number in range(1001)]),
            ("author_id", str(uuid.uuid4())),
        ],
        ids=[
            "empty headline",
            "blank headline",
            "headline too long",
            "line break in headline",
            "empty body",
            "body too long",
            "control character in body",
            "unknown crime type",
            "severity not in CAP spelling",
            "unknown urgency",
            "lower-case ward code",
            "short ward code",
            "long ward code",
            "duplicate ward codes",
            "too many wards",
            "unknown field",
        ],
    )
    async def test_invalid_input_is_a_422_problem_naming_the_field(
        self, client: httpx.AsyncClient, field: str, value: object
    ) -> None:
        response = await client.post(
            "/alerts", json=alert_request(**{field: value}), headers=officer_headers()
        )

        problem = assert_problem(response, 422, "invalid-request")
        assert any(field in error["loc"] for error in problem["errors"]), problem

    @pytest.mark.parametrize("field", ["headline", "body", "crime_type", "target_ward_codes"])
    async def test_missing_required_field_is_a_422_problem(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        request = alert_request()
        del request[field]

        response = await client.post("/alerts", json=request, headers=officer_headers())

        assert_problem(response, 422, "invalid-request")

    async def test_duplicate_ward_codes_are_named_in_the_problem(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/alerts",
            json=alert_request(target_ward_codes=["E05000002", "E05000001", "E05000002"]),
            headers=officer_headers(),
        )

        assert "E05000002" in assert_problem(response, 422)["detail"]


ENDPOINTS = [
    ("POST", "/alerts", alert_request()),
    ("GET", "/alerts", None),
    ("GET", f"/alerts/{UNKNOWN_ID}", None),
    ("POST", f"/alerts/{UNKNOWN_ID}/publish", None),
]
ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in ENDPOINTS]


class TestAccess:
    @pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
    async def test_without_a_token_is_401(
        self, client: httpx.AsyncClient, method: str, path: str, body: object
    ) -> None:
        response = await client.request(method, path, json=body)

        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
    async def test_a_resident_is_403(
        self, client: httpx.AsyncClient, method: str, path: str, body: object
    ) -> None:
        response = await client.request(
            method, path, json=body, headers=auth_header(roles=["resident"])
        )

        assert_problem(response, 403, "forbidden")

    @pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
    async def test_a_token_signed_by_another_key_is_401(
        self, client: httpx.AsyncClient, method: str, path: str, body: object
    ) -> None:
        forged = make_token(roles=["officer"], private_key=Ed25519PrivateKey.generate())

        response = await client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {forged}"}
        )

        assert_problem(response, 401, "unauthorized")

    async def test_an_expired_officer_token_is_401(self, client: httpx.AsyncClient) -> None:
        expired = make_token(roles=["officer"], expires_in=-60)

        response = await client.post(
            "/alerts", json=alert_request(), headers={"Authorization": f"Bearer {expired}"}
        )

        assert_problem(response, 401, "unauthorized")

    async def test_a_resident_creates_nothing(self, client: httpx.AsyncClient) -> None:
        request = alert_request()

        await client.post("/alerts", json=request, headers=auth_header(roles=["resident"]))

        listed = await client.get(f"/alerts?limit={MAX_PAGE_SIZE}", headers=officer_headers())
        assert request["headline"] not in {alert["headline"] for alert in listed.json()}


class TestPublishAlert:
    async def test_publishing_stages_one_alert_published_event_and_the_relay_sends_it(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: AlertsSettings,
    ) -> None:
        draft = await create_alert(
            client, crime_type="robbery", severity="Severe", urgency="Immediate"
        )

        response = await client.post(f"/alerts/{draft['id']}/publish", headers=officer_headers())

        assert response.status_code == 200, response.text
        published = response.json()
        assert published["status"] == "published"
        published_at = datetime.fromisoformat(published["published_at"])
        assert published_at >= datetime.fromisoformat(draft["created_at"])
        assert datetime.fromisoformat(published["updated_at"]) >= published_at

        staged = await outbox_envelopes(sessions, draft["id"])
        assert len(staged) == 1
        envelope = EventEnvelope.model_validate(
            {k: v for k, v in staged[0].items() if not k.startswith("_")}
        )
        assert staged[0]["_key"] == draft["id"]
        assert (envelope.type, envelope.version, envelope.producer) == (
            "alert.published",
            1,
            "alerts",
        )
        event = envelope.parse_payload()
        assert isinstance(event, AlertPublished)
        assert str(event.content.alert_id) == draft["id"]
        assert event.content.msg_type == "Alert"
        assert event.content.headline == draft["headline"]
        assert event.content.body == draft["body"]
        assert event.content.category == "robbery"
        assert (event.content.severity, event.content.urgency) == ("Severe", "Immediate")
        assert event.content.sender_name == SENDER_NAME
        assert event.content.sent_at == published_at
        assert event.target_ward_codes == draft["target_ward_codes"]

        on_topic = await read_alert_events(settings, draft["id"])
        assert [e["event_id"] for e in on_topic] == [str(envelope.event_id)]
        assert on_topic[0]["type"] == AlertPublished.event_type
        assert AlertPublished.topic is Topic.ALERTS
        relayed = await outbox_envelopes(sessions, draft["id"])
        assert relayed[0]["_published_at"] is not None

    async def test_the_event_carries_every_language_of_the_alert(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        welsh = {
            "language": "cy-GB",
            "headline": "Byrgleriaethau ar Acacia Avenue",
            "description": "Torrwyd i mewn i dri chartref dros nos.",
            "instruction": "Cloiwch eich drysau.",
        }
        draft = await create_alert(client, translations=[welsh])

        response = await client.post(f"/alerts/{draft['id']}/publish", headers=officer_headers())

        assert response.status_code == 200, response.text
        [staged] = await outbox_envelopes(sessions, draft["id"])
        content = staged["payload"]["content"]
        assert content["language"] == "en-GB"
        assert content["translations"] == [
            {
                "language": "cy-GB",
                "headline": welsh["headline"],
                "body": welsh["description"],
                "instruction": welsh["instruction"],
            }
        ]

    async def test_publishing_twice_is_a_409_and_stages_no_second_event(
        self, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        draft = await create_alert(client)
        first = await client.post(f"/alerts/{draft['id']}/publish", headers=officer_headers())

        second = await client.post(f"/alerts/{draft['id']}/publish", headers=officer_headers())

        assert first.status_code == 200
        problem = assert_problem(second, 409, "alert-state-conflict")
        assert problem["state"] == "published"
        assert problem["alert_id"] == draft["id"]
        assert len(await outbox_envelopes(sessions, draft["id"])) == 1
        unchanged = await client.get(f"/alerts/{draft['id']}", headers=officer_headers())
        assert unchanged.json()["published_at"] == first.json()["published_at"]

    async def test_publishing_an_unknown_alert_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"/alerts/{UNKNOWN_ID}/publish", headers=officer_headers())

        assert_problem(response, 404, "alert-not-found")

    async def test_a_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/alerts/not-a-uuid/publish", headers=officer_headers())

        assert_problem(response, 422, "invalid-request")


class TestUpdateAlert:
    @pytest.mark.parametrize("field", ["expires", "headline", "severity", "urgency", "body"])
    async def test_clearing_a_field_every_message_has_is_a_422_and_changes_nothing(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        draft = await create_alert(client)
        await client.post(f"/alerts/{draft['id']}/publish", headers=officer_headers())

        response = await client.post(
            f"/alerts/{draft['id']}/updates",
            json={field: None, "no_victim_details_confirmed": True},
            headers=officer_headers(),
        )

        problem = assert_problem(response, 422)
        assert "cannot be cleared" in str(problem)
        original = await client.get(f"/alerts/{draft['id']}", headers=officer_headers())
        assert original.json()["status"] == "published"

    async def test_clearing_an_optional_field_is_an_update(self, client: httpx.AsyncClient) -> None:
        draft = await create_alert(client, instruction="Call 999.")
        await client.post(f"/alerts/{draft['id']}/publish", headers=officer_headers())

        response = await client.post(
            f"/alerts/{draft['id']}/updates",
            json={"instruction": None, "no_victim_details_confirmed": True},
            headers=officer_headers(),
        )

        assert response.status_code == 201, response.text
        assert response.json()["instruction"] is None


class TestGetAlert:
    async def test_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/alerts/{UNKNOWN_ID}", headers=officer_headers())

        assert_problem(response, 404, "alert-not-found")


class TestListAlerts:
    """The app's database is shared by this session's tests, so these look at their own alerts
    only: just created, they are the newest."""

    async def test_newest_first_with_limit_and_offset(self, client: httpx.AsyncClient) -> None:
        oldest, middle, newest = [await create_alert(client) for _ in range(3)]
        headers = officer_headers()

        first_page = await client.get("/alerts?limit=2", headers=headers)
        second_page = await client.get("/alerts?limit=2&offset=1", headers=headers)
        third = await client.get("/alerts?limit=1&offset=2", headers=headers)

        assert [a["id"] for a in first_page.json()] == [newest["id"], middle["id"]]
        assert [a["id"] for a in second_page.json()] == [middle["id"], oldest["id"]]
        assert [a["id"] for a in third.json()] == [oldest["id"]]

    async def test_status_filters_drafts_from_published(self, client: httpx.AsyncClient) -> None:
        draft = await create_alert(client)
        to_publish = await create_alert(client)
        headers = officer_headers()
        await client.post(f"/alerts/{to_publish['id']}/publish", headers=headers)

        drafts = (await client.get("/alerts?status=draft&limit=5", headers=headers)).json()
        published = (await client.get("/alerts?status=published&limit=5", headers=headers)).json()

        assert drafts[0]["id"] == draft["id"]
        assert to_publish["id"] not in {a["id"] for a in drafts}
        assert published[0]["id"] == to_publish["id"]
        assert {a["status"] for a in drafts} == {"draft"}
        assert {a["status"] for a in published} == {"published"}

    async def test_filters_by_target_crime_type_author_and_time(
        self, client: httpx.AsyncClient
    ) -> None:
        ward = unique_ward_code()
        author = uuid.uuid4()
        headers = officer_headers(member_id=author)
        robbery = await create_alert(
            client, headers, target_ward_codes=[ward], crime_type="robbery"
        )
        burglary = await create_alert(client, headers, target_ward_codes=[ward])
        elsewhere = await create_alert(client, headers)

        async def ids(query: str) -> list[str]:
            response = await client.get(f"/alerts?{query}", headers=officer_headers())
            assert response.status_code == 200, response.text
            return [a["id"] for a in response.json()]

        assert await ids(f"ward_code={ward}") == [burglary["id"], robbery["id"]]
        assert await ids(f"ward_code={ward}&crime_type=robbery") == [robbery["id"]]
        assert await ids(f"author_id={author}") == [elsewhere["id"], burglary["id"], robbery["id"]]
        after = httpx.QueryParams(
            {"created_from": burglary["created_at"], "author_id": str(author)}
        )
        assert await ids(str(after)) == [elsewhere["id"], burglary["id"]]
        before = httpx.QueryParams({"created_before": burglary["created_at"], "ward_code": ward})
        assert await ids(str(before)) == [robbery["id"]]
        assert await ids(f"author_id={author}&msg_type=Update") == []

    @pytest.mark.parametrize(
        "query",
        ["status=sent", "limit=0", f"limit={MAX_PAGE_SIZE + 1}", "offset=-1", "limit=ten"],
    )
    async def test_bad_query_is_a_422_problem(self, client: httpx.AsyncClient, query: str) -> None:
        response = await client.get(f"/alerts?{query}", headers=officer_headers())

        assert_problem(response, 422, "invalid-request")


class TestOpenAPI:
    async def test_every_alerts_operation_documents_its_problems_and_examples(
        self, client: httpx.AsyncClient
    ) -> None:
        spec = (await client.get("/openapi.json")).json()
        operations = [
            operation
            for path, item in spec["paths"].items()
            if path.startswith("/alerts")
            for operation in item.values()
        ]

        assert len(operations) == 29
        for operation in operations:
            assert operation["summary"]
            # Members' own feedback endpoints need no role, so they have no 403.
            assert {"401", "422"} <= set(operation["responses"])
            assert "403" in operation["responses"] or operation["tags"] == ["feedback"]
            assert PROBLEM_JSON in operation["responses"]["401"]["content"]
        create = spec["paths"]["/alerts"]["post"]
        assert create["requestBody"]["content"]["application/json"]["examples"]
        for operation in spec["paths"]["/alerts/{alert_id}/approve"].values():
            assert operation["parameters"][0]["examples"]
        for path in ("/alerts/{alert_id}/images", "/alerts/{alert_id}/replies/{reply_id}/photo"):
            upload = spec["paths"][path]["post"]["requestBody"]["content"]
            assert "file" in upload["multipart/form-data"]["schema"]["properties"]
        cap = spec["paths"]["/alerts/cap"]["post"]
        assert cap["requestBody"]["content"]["application/cap+xml"]["example"]
        feeds = [
            operation
            for path, item in spec["paths"].items()
            if path.startswith("/feeds")
            for operation in item.values()
        ]
        assert len(feeds) == 4
        assert all(operation["summary"] and "422" in operation["responses"] for operation in feeds)
