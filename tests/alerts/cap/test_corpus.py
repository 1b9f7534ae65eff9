"""The CAP corpus (tests/alerts/cap/corpus, written by the project): each message posted as an
API client of another system would, and each outcome checked. Real-world shapes are refused
as published (their areas are outside London) and accepted or refused for a reason a partner
can act on once their area is London's; hostile messages are 4xx naming the element, never a
500."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta, timezone
from pathlib import Path
from string import Template
from typing import Any

import httpx
import pytest
import xmlschema

from services.alerts.cap.document import CAP_MEDIA_TYPE, CAP_NS
from services.alerts.cap.reading import parse_xml
from shared.db import utcnow
from tests.alerts.conftest import CAP_XSD, requires_cap_schema
from tests.support.tokens import auth_header

CORPUS = Path(__file__).parent / "corpus"
BELSIZE = "E05013652"
CAMDEN = "E09000007"
LONDON_WARD_AREA = (
    "<area><areaDesc>Belsize ward, London</areaDesc><geocode><valueName>ONS_WARD</valueName>"
    f"<value>{BELSIZE}</value></geocode></area>"
)
# A square of about 450 m by 550 m in Belsize, Camden: a shape with no geocode.
LONDON_POLYGON_AREA = (
    "<area><areaDesc>Belsize Park, London</areaDesc><polygon>51.546,-0.175 51.546,-0.167 "
    "51.550,-0.167 51.550,-0.175 51.546,-0.175</polygon></area>"
)
US_CENTRAL = timezone(timedelta(hours=-5))


def client_headers() -> dict[str, str]:
    """An API client of another system covering Camden: no roles, so its CAP is submitted."""
    return auth_header(
        roles=[],
        area_boroughs=[CAMDEN],
        scope="cap:write",
        org=uuid.uuid4(),
        member_id=uuid.uuid4(),
    )


def message(name: str, *, area: str | None = None, **fields: str) -> bytes:
    """A corpus file with fresh identifier and dates; ``area`` replaces every ``area``."""
    sent = utcnow().astimezone(US_CENTRAL).replace(microsecond=0) - timedelta(minutes=10)
    text = Template((CORPUS / name).read_text(encoding="utf-8")).substitute(
        ID=fields.get("identifier", f"urn:oid:2.49.0.1.840.0.{uuid.uuid4().hex}"),
        SENT=sent.isoformat(),
        EXPIRES=(sent + timedelta(hours=6)).isoformat(),
    )
    if area is not None:
        text = re.sub(r"<area>.*?</area>", area, text, flags=re.S)
    return text.encode()


async def post(client: httpx.AsyncClient, body: bytes, **headers: str) -> httpx.Response:
    return await client.post(
        "/alerts/cap",
        content=body,
        headers={**client_headers(), "Content-Type": CAP_MEDIA_TYPE, **headers},
    )


def refused(response: httpx.Response, status: int, slug: str, element: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith(f"/{slug}"), problem
    assert problem["element"] == element, problem
    return problem


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    if not CAP_XSD.is_file():
        pytest.skip(f"the official CAP 1.2 schema is not at {CAP_XSD}")
    return xmlschema.XMLSchema(str(CAP_XSD))


FILES = sorted(p.name for p in CORPUS.glob("*.xml"))


@requires_cap_schema
class TestAsPublished:
    @pytest.mark.parametrize("name", FILES)
    async def test_every_message_is_schema_valid_and_refused_as_outside_coverage(
        self, client: httpx.AsyncClient, schema: xmlschema.XMLSchema, name: str
    ) -> None:
        document = message(name)
        schema.validate(document)

        problem = refused(
            await post(client, document), 422, "cap-area-outside-coverage", "alert/info[1]/area"
        )

        assert "outside the platform's coverage" in problem["detail"]
        assert "tawny:" not in problem["detail"]
        assert problem["unresolved_geocodes"]


@requires_cap_schema
class TestWithALondonArea:
    async def test_the_amber_alert_is_one_alert_in_english_and_spanish(
        self, client: httpx.AsyncClient, schema: xmlschema.XMLSchema
    ) -> None:
        document = message("amber-alert-en-es.xml", area=LONDON_WARD_AREA)
        schema.validate(document)

        response = await post(client, document)

        assert response.status_code == 201, response.text
        alert = response.json()
        assert alert["status"] == "submitted"
        assert (alert["crime_type"], alert["crime_type_derived"]) == ("missing_person", True)
        assert (alert["language"], alert["event"]) == ("en-US", "Child Abduction")
        (spanish,) = alert["translations"]
        assert spanish["language"] == "es-US"
        assert spanish["event"] == "Secuestro de menor"
        assert spanish["headline"] == "Alerta Amber en el condado de Example"
        assert alert["target_ward_codes"] == [BELSIZE]
        # Staff only until published: the author client is not staff, so read as an officer.
        officer = auth_header(roles=["officer"], area_boroughs=[CAMDEN])
        written = await client.get(f"/alerts/{alert['id']}/cap", headers=officer)
        assert written.status_code == 200, written.text
        schema.validate(written.content)
        assert b"<event>Secuestro de menor</event>" in written.content
        assert written.content.count(b"<info>") == 2

    async def test_an_officer_corrects_the_derived_crime_type_before_approval(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await post(client, message("amber-alert-en-es.xml", area=LONDON_WARD_AREA))
        alert_id = created.json()["id"]
        officer = auth_header(roles=["officer"], area_boroughs=[CAMDEN], member_id=uuid.uuid4())

        corrected = await client.put(
            f"/alerts/{alert_id}/crime-type", json={"crime_type": "witness_appeal"}, headers=officer
        )
        approved = await client.post(f"/alerts/{alert_id}/approve", headers=officer)

        assert corrected.status_code == 200, corrected.text
        assert (corrected.json()["crime_type"], corrected.json()["crime_type_derived"]) == (
            "witness_appeal",
            False,
        )
        assert approved.status_code == 200, approved.text
        again = await client.put(
            f"/alerts/{alert_id}/crime-type", json={"crime_type": "burglary"}, headers=officer
        )
        assert again.status_code == 409

    async def test_a_thunderstorm_warning_whose_area_is_a_london_polygon_is_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await post(
            client, message("nws-severe-thunderstorm-warning.xml", area=LONDON_POLYGON_AREA)
        )

        assert response.status_code == 201, response.text
        alert = response.json()
        assert (alert["crime_type"], alert["crime_type_derived"]) == ("safety_advice", True)
        # The shape alone targets the wards it touches, and is kept.
        assert BELSIZE in alert["target_ward_codes"]
        assert alert["target_polygons"][0][0] == [51.546, -0.175]
        assert alert["categories"] == ["Met"]

    async def test_a_statement_with_a_plain_http_link_is_refused_naming_web(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await post(
            client, message("nws-special-weather-statement.xml", area=LONDON_POLYGON_AREA)
        )

        refused(response, 400, "cap-document-invalid", "alert/info[1]/web")

    async def test_an_advisory_with_an_instruction_too_long_is_refused_naming_it(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await post(client, message("nws-heat-advisory.xml", area=LONDON_POLYGON_AREA))

        problem = refused(response, 400, "cap-document-invalid", "alert/info[1]/instruction")
        assert "1000" in problem["detail"]

    async def test_an_update_of_a_message_tawny_never_held_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await post(
            client, message("nws-flood-warning-update.xml", area=LONDON_POLYGON_AREA)
        )

        assert response.status_code == 422, response.text
        assert "references name no alert" in response.json()["detail"]


def amber(**fields: str) -> str:
    return message("amber-alert-en-es.xml", area=LONDON_WARD_AREA, **fields).decode()


def hostile_messages() -> list[tuple[str, bytes, int, str]]:
    """(id, document, status, element) for each hostile or broken message."""
    base = amber()
    exponent_circle = (
        "<area><areaDesc>Greenwich</areaDesc><circle>5.14769e1,-5e-05 0.5</circle></area>"
    )
    cases = [
        ("identifier-250", amber(identifier="I" * 250), "alert/identifier"),
        ("sender-250", base.replace("ALERTS@DISPATCH.EXAMPLE.GOV", "S" * 250), "alert/sender"),
        ("identifier-comma-space", amber(identifier="MPS 1,2"), "alert/identifier"),
        ("identifier-ampersand", amber(identifier="MPS&amp;1"), "alert/identifier"),
        (
            "sent-without-offset",
            re.sub(r"<sent>([^<]{19})[^<]*</sent>", r"<sent>\1</sent>", base),
            "alert/sent",
        ),
        (
            "expires-with-z",
            base.replace(
                "<senderName>",
                "<expires>2030-01-01T00:00:00Z</expires><senderName>",
                1,
            ),
            "alert/info[1]/expires",
        ),
        (
            "exponent-coordinates",
            re.sub(r"<area>.*?</area>", exponent_circle, base, flags=re.S),
            "alert/info[1]/area[1]/circle[1]",
        ),
        (
            "nan-coordinates",
            re.sub(
                r"<area>.*?</area>",
                "<area><areaDesc>x</areaDesc><polygon>nan,nan 1,1 2,2 nan,nan</polygon></area>",
                base,
                flags=re.S,
            ),
            "alert/info[1]/area[1]/polygon[1]",
        ),
        (
            "references-syntax",
            base.replace("<msgType>Alert</msgType>", "<msgType>Update</msgType>").replace(
                "<scope>Public</scope>",
                "<scope>Public</scope><references>not a reference</references>",
            ),
            "alert/references",
        ),
        (
            "ack",
            base.replace("<msgType>Alert</msgType>", "<msgType>Ack</msgType>"),
            "alert/msgType",
        ),
        (
            "two-blocks-one-language",
            base.replace("<language>es-US</language>", "<language>en-US</language>"),
            "alert/info[2]/language",
        ),
        (
            "translation-changes-severity",
            "<severity>Minor</severity>".join(base.rsplit("<severity>Severe</severity>", 1)),
            "alert/info[2]/severity",
        ),
        (
            "area-description-too-long",
            base.replace("Belsize ward, London", "B" * 600),
            "alert/info[1]/area/areaDesc",
        ),
        (
            "seven-info-blocks",
            base.replace(
                "</alert>",
                "".join(
                    re.search(r"<info>.*?</info>", base, flags=re.S)
                    .group(0)  # type: ignore[union-attr]
                    .replace("<language>en-US", f"<language>{language}")
                    for language in ("fr", "de", "it", "pt", "nl")
                )
                + "</alert>",
            ),
            "alert/info[7]",
        ),
        (
            "deep-nesting",
            base.replace("<source>", "<note>" + "<x>" * 3000 + "</x>" * 3000 + "</note><source>"),
            "",
        ),
    ]
    return [(name, doc.encode(), 400, element) for name, doc, element in cases]


class TestHostile:
    @pytest.mark.parametrize(
        ("document", "status", "element"),
        [pytest.param(d, s, e, id=name) for name, d, s, e in hostile_messages()],
    )
    async def test_is_a_4xx_problem_naming_the_element(
        self, client: httpx.AsyncClient, document: bytes, status: int, element: str
    ) -> None:
        response = await post(client, document)

        assert response.status_code == status, response.text
        problem = response.json()
        assert problem["type"].endswith("/cap-document-invalid"), problem
        if element:
            assert problem["element"] == element, problem

    async def test_an_oversized_message_is_413_with_what_to_do(
        self, client: httpx.AsyncClient
    ) -> None:
        padding = "<note>" + "x" * 70_000 + "</note>"
        document = amber().replace("<source>", padding + "<source>").encode()

        response = await post(client, document)

        assert response.status_code == 413
        assert "one CAP alert per request" in response.json()["detail"]

    async def test_after_a_refusal_the_next_request_is_served(
        self, client: httpx.AsyncClient
    ) -> None:
        """The 500 of old closed the connection (and the gateway's next request got 502)."""
        await post(client, amber(identifier="I" * 250).encode())

        response = await post(client, amber().encode())

        assert response.status_code == 201, response.text


def _leaf_variants() -> list[tuple[str, bytes]]:
    """The London Amber Alert with each leaf element's text replaced by something hostile, and
    with each leaf removed: every element, every kind of bad value."""
    values = {
        "long": "x" * 10_000,
        "empty": "",
        "overflow": "-1e309",
        "unicode": "\u202e" + "é" * 300,
        "control": "a\x01b",
        "spaces": "   ",
    }
    base = message("amber-alert-en-es.xml", area=LONDON_WARD_AREA)
    leaves = [e for e in parse_xml(base).iter() if len(e) == 0]
    variants: list[tuple[str, bytes]] = []
    for index in range(len(leaves)):
        for name, value in [*values.items(), ("removed", None)]:
            root = parse_xml(base)
            leaf = [e for e in root.iter() if len(e) == 0][index]
            if value is None:
                parent = next(p for p in root.iter() if leaf in list(p))
                parent.remove(leaf)
            else:
                leaf.text = value
            tag = leaf.tag.rsplit("}", 1)[-1]
            document = ET.tostring(root, encoding="utf-8", default_namespace=CAP_NS)
            variants.append((f"{index}-{tag}-{name}", document))
    return variants


class TestNoCapInputIsA500:
    async def test_every_element_with_every_bad_value_is_answered_4xx_or_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        answers: dict[int, int] = {}
        for name, document in _leaf_variants():
            response = await post(client, document)
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            assert response.status_code < 500, (name, response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json", name

        assert set(answers) - {201, 400, 409, 413, 422} == set(), answers
