"""CAP 1.2 interop: what Tawny emits validates against the official schema; what it receives is
parsed safely; a document survives a round trip."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import xmlschema

from services.alerts.cap.document import CAP_MEDIA_TYPE, cap_datetime
from services.alerts.cap.intake import read_cap as from_xml
from shared.db import utcnow
from tests.alerts.conftest import CAP_XSD, requires_cap_schema
from tests.alerts.helpers import alert_request, create_alert, unique_ward_code
from tests.support.tokens import auth_header

BOROUGH = "E09000007"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    if not CAP_XSD.is_file():
        pytest.skip(f"the official CAP 1.2 schema is not at {CAP_XSD}")
    return xmlschema.XMLSchema(str(CAP_XSD))


def officer(ward: str, **kwargs: Any) -> dict[str, str]:
    return auth_header(
        roles=["officer"], area=[ward], area_boroughs=[BOROUGH], member_id=uuid.uuid4(), **kwargs
    )


def cap_document(ward: str, *, identifier: str | None = None, extra_info: str = "") -> bytes:
    identifier = identifier or f"MPS-{uuid.uuid4().hex[:12]}"
    expires = cap_datetime(utcnow() + timedelta(days=10))
    info = f"""<info><language>{{lang}}</language><category>Security</category>
<event>Robbery</event><responseType>Avoid</responseType><urgency>Immediate</urgency>
<severity>Severe</severity><certainty>Observed</certainty>
<expires>{expires}</expires><senderName>Met CAD</senderName>
<headline>{{headline}}</headline><description>{{description}}</description>
<instruction>Avoid the High Street.</instruction><web>https://met.police.uk/appeal/1</web>
<contact>Call 101 quoting CAD 1234</contact>
<parameter><valueName>tawny:crimeType</valueName><value>witness_appeal</value></parameter>
<parameter><valueName>tawny:reference</valueName><value>CAD 1234/23NOV</value></parameter>
<parameter><valueName>tawny:audience</valueName><value>residents</value></parameter>
<parameter><valueName>tawny:channels</valueName><value>email sms</value></parameter>
<parameter><valueName>tawny:noVictimDetails</valueName><value>confirmed</value></parameter>
<parameter><valueName>tawny:suspect</valueName>
<value>{{{{"build": "slim", "clothing": "black puffer jacket"}}}}</value></parameter>
<area><areaDesc>High Street</areaDesc>
<polygon>51.5,-0.1 51.6,-0.1 51.6,0.0 51.5,-0.1</polygon>
<circle>51.55,-0.12 0.5</circle>
<geocode><valueName>ONS_WARD</valueName><value>{ward}</value></geocode>
<geocode><valueName>ONS_BOROUGH</valueName><value>{BOROUGH}</value></geocode>
</area></info>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>{identifier}</identifier><sender>cad@met.police.uk</sender>
<sent>2026-11-23T12:00:00+00:00</sent><status>Actual</status><msgType>Alert</msgType>
<scope>Public</scope>
{info.format(lang="en-GB", headline="Witness appeal: robbery", description="A phone was taken.")}
{info.format(lang="cy", headline="Apel am dystion", description="Cymerwyd ffon.")}
{extra_info}</alert>""".encode()


async def post_cap(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        "/alerts/cap", content=body, headers={**headers, "Content-Type": CAP_MEDIA_TYPE}
    )


class TestEmittedCap:
    async def test_a_full_alert_validates_against_the_official_schema(
        self, client: httpx.AsyncClient, schema: xmlschema.XMLSchema
    ) -> None:
        ward = unique_ward_code()
        headers = officer(ward)
        alert = await create_alert(
            client,
            headers,
            crime_type="witness_appeal",
            reference="CAD 1234/23NOV",
            contact="Call 101",
            web="https://met.police.uk/appeal/1",
            instruction="Call us if you saw anything.",
            translations=[{"language": "cy", "headline": "Apel", "description": "Disgrifiad"}],
            suspects=[{"clothing": "red coat", "appearance": "described as white"}],
            target_ward_codes=[ward],
            target_borough_codes=[BOROUGH],
            target_circles=[{"lat": 51.5, "lon": -0.12, "radius_km": 1.5}],
            target_polygons=[[[51.5, -0.1], [51.6, -0.1], [51.6, 0.0], [51.5, -0.1]]],
        )

        response = await client.get(f"/alerts/{alert['id']}/cap", headers=headers)

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == CAP_MEDIA_TYPE
        schema.validate(response.content)
        parsed = from_xml(response.content)
        assert parsed.identifier == f"urn:uuid:{alert['id']}"
        assert parsed.alert.translations[0].language == "cy"
        assert parsed.alert.suspects[0].clothing == "red coat"

    async def test_an_update_references_the_original_and_validates(
        self, client: httpx.AsyncClient, schema: xmlschema.XMLSchema
    ) -> None:
        ward = unique_ward_code()
        headers = officer(ward)
        alert = await create_alert(client, headers, target_ward_codes=[ward])
        published = await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
        update = await client.post(
            f"/alerts/{alert['id']}/updates",
            json={"instruction": "Avoid Mill Lane.", "no_victim_details_confirmed": True},
            headers=headers,
        )
        assert update.status_code == 201, update.text

        response = await client.get(f"/alerts/{update.json()['id']}/cap")

        schema.validate(response.content)
        parsed = from_xml(response.content)
        assert parsed.msg_type.value == "Update"
        sent = published.json()["sent"]
        (reference,) = parsed.references
        sender, identifier, when = reference.split(",")
        assert (sender, identifier) == (alert["sender"], alert["identifier"])
        assert when[:19] == sent[:19]

    async def test_a_draft_is_not_public(self, client: httpx.AsyncClient) -> None:
        alert = await create_alert(client)

        assert (await client.get(f"/alerts/{alert['id']}/cap")).status_code == 401
        resident = auth_header(roles=["resident"])
        assert (await client.get(f"/alerts/{alert['id']}/cap", headers=resident)).status_code == 403


class TestReceivedCap:
    @requires_cap_schema
    async def test_round_trip_xml_in_alert_xml_out_parsed_back_equal(
        self, client: httpx.AsyncClient, schema: xmlschema.XMLSchema
    ) -> None:
        ward = unique_ward_code()
        headers = officer(ward, scope="cap:write")
        document = cap_document(ward)
        schema.validate(document)

        response = await post_cap(client, document, headers)

        assert response.status_code == 201, response.text
        alert = response.json()
        assert (alert["status"], alert["crime_type"]) == ("draft", "witness_appeal")
        assert alert["sender"] == "cad@met.police.uk"
        out = await client.get(f"/alerts/{alert['id']}/cap", headers=headers)
        schema.validate(out.content)
        assert from_xml(out.content) == from_xml(document)

    async def test_the_same_identifier_twice_is_a_conflict(self, client: httpx.AsyncClient) -> None:
        ward = unique_ward_code()
        headers = officer(ward, scope="cap:write")
        document = cap_document(ward)

        assert (await post_cap(client, document, headers)).status_code == 201
        assert (await post_cap(client, document, headers)).status_code == 409

    async def test_without_the_cap_write_scope_is_403(self, client: httpx.AsyncClient) -> None:
        ward = unique_ward_code()

        response = await post_cap(client, cap_document(ward), officer(ward))

        assert response.status_code == 403

    async def test_a_target_outside_the_clients_area_is_403(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = officer(unique_ward_code(), scope="cap:write")

        response = await post_cap(client, cap_document(unique_ward_code()), headers)

        assert response.status_code == 403

    async def test_json_is_415(self, client: httpx.AsyncClient) -> None:
        ward = unique_ward_code()
        response = await client.post(
            "/alerts/cap", json=alert_request(), headers=officer(ward, scope="cap:write")
        )

        assert response.status_code == 415

    @pytest.mark.parametrize(
        "document",
        [
            # Billion laughs: nested entity expansion.
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
            b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;'
            b"</identifier></alert>",
            # External entity: reading a local file.
            b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;'
            b"</identifier></alert>",
            # External DTD.
            b'<?xml version="1.0"?><!DOCTYPE alert SYSTEM "http://evil.example/cap.dtd">'
            b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>',
            b"<alert>not closed",
            b'<feed xmlns="http://www.w3.org/2005/Atom"/>',
            b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier>'
            b"</alert>",
        ],
        ids=[
            "entity expansion",
            "external entity",
            "external dtd",
            "not well-formed",
            "not cap",
            "incomplete cap",
        ],
    )
    async def test_hostile_or_broken_xml_is_400(
        self, client: httpx.AsyncClient, document: bytes
    ) -> None:
        response = await post_cap(client, document, officer(unique_ward_code(), scope="cap:write"))

        assert response.status_code == 400, response.text
        assert response.json()["type"].endswith("/cap-document-invalid")

    async def test_elements_nested_two_thousand_deep_are_400(
        self, client: httpx.AsyncClient
    ) -> None:
        ward = unique_ward_code()
        nested = b"<info>" * 2000 + b"</info>" * 2000
        document = cap_document(ward, extra_info=(nested * 2).decode())

        response = await post_cap(client, document, officer(ward, scope="cap:write"))

        assert response.status_code == 400, response.text
        assert "nests" in response.json()["detail"]

    async def test_a_suspect_nested_twenty_thousand_deep_is_400(
        self, client: httpx.AsyncClient
    ) -> None:
        ward = unique_ward_code()
        document = cap_document(ward).replace(
            b'{"build": "slim", "clothing": "black puffer jacket"}', b"[" * 20_000
        )

        response = await post_cap(client, document, officer(ward, scope="cap:write"))

        assert response.status_code == 400, response.text
        assert "nests" in response.json()["detail"]

    async def test_an_oversized_document_is_413(self, client: httpx.AsyncClient) -> None:
        ward = unique_ward_code()
        padding = f"<note>{'x' * 70_000}</note>".encode()
        document = cap_document(ward).replace(b"<scope>", padding + b"<scope>")

        response = await post_cap(client, document, officer(ward, scope="cap:write"))

        assert response.status_code == 413

    async def test_info_blocks_that_disagree_are_refused(self, client: httpx.AsyncClient) -> None:
        ward = unique_ward_code()
        document = cap_document(ward).replace(
            b"<severity>Severe</severity>", b"<severity>Minor</severity>", 1
        )

        response = await post_cap(client, document, officer(ward, scope="cap:write"))

        assert response.status_code == 400
