"""CAP out, stable: decimal degrees with fixed precision, the CAP namespace always the default
one whatever the process wrote before, and schema-valid for every target shape, language and
message type."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import xmlschema

from services.alerts.cap.crime_types import derive_crime_type
from services.alerts.cap.document import degrees
from services.alerts.models import CrimeType
from tests.alerts.cap.test_cap import BOROUGH, officer
from tests.alerts.conftest import CAP_XSD
from tests.alerts.helpers import create_alert, unique_ward_code

GREENWICH_MERIDIAN = {"lat": 51.4769, "lon": -0.00005, "radius_km": 0.5}
# Shapes inside Camden (BOROUGH), so that one officer of it may publish them.
BELSIZE_CIRCLE = {"lat": 51.548, "lon": -0.171, "radius_km": 0.2}
BELSIZE_POLYGON = [[51.546, -0.175], [51.546, -0.167], [51.55, -0.167], [51.546, -0.175]]
SHAPES: dict[str, dict[str, Any]] = {
    "ward": {},
    "borough": {"target_borough_codes": [BOROUGH]},
    "circle": {"target_circles": [BELSIZE_CIRCLE]},
    "polygon": {"target_polygons": [BELSIZE_POLYGON]},
}
LANGUAGES: dict[str, list[dict[str, str]]] = {
    "english": [],
    "english-and-welsh": [
        {"language": "cy", "headline": "Lladradau", "description": "Clowch eich drysau."}
    ],
}


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    if not CAP_XSD.is_file():
        pytest.skip(f"the official CAP 1.2 schema is not at {CAP_XSD}")
    return xmlschema.XMLSchema(str(CAP_XSD))


class TestDegrees:
    @pytest.mark.parametrize(
        ("value", "written"),
        [
            (-0.00005, "-0.000050"),
            (51.4769, "51.476900"),
            (1e-9, "0.000000"),
            (-1e-9, "0.000000"),
            (-180.0, "-180.000000"),
        ],
    )
    def test_fixed_places_never_an_exponent(self, value: float, written: str) -> None:
        assert degrees(value) == written


class TestWrittenCap:
    @pytest.mark.parametrize("language", sorted(LANGUAGES))
    @pytest.mark.parametrize("shape", sorted(SHAPES))
    async def test_alert_update_and_cancel_are_schema_valid(
        self, client: httpx.AsyncClient, schema: xmlschema.XMLSchema, shape: str, language: str
    ) -> None:
        ward = unique_ward_code()
        headers = officer(ward)
        alert = await create_alert(
            client,
            headers,
            target_ward_codes=[ward],
            translations=LANGUAGES[language],
            **SHAPES[shape],
        )
        published = await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
        assert published.status_code == 200, published.text
        update = await client.post(
            f"/alerts/{alert['id']}/updates",
            json={"instruction": "Avoid Mill Lane.", "no_victim_details_confirmed": True},
            headers=headers,
        )
        assert update.status_code == 201, update.text
        cancel = await client.post(
            f"/alerts/{alert['id']}/cancel", json={"reason": "Sent in error."}, headers=headers
        )
        assert cancel.status_code == 201, cancel.text

        for message_id, msg_type in (
            (alert["id"], "Alert"),
            (update.json()["id"], "Update"),
            (cancel.json()["id"], "Cancel"),
        ):
            written = await client.get(f"/alerts/{message_id}/cap", headers=headers)
            assert written.status_code == 200, written.text
            schema.validate(written.content)
            assert f"<msgType>{msg_type}</msgType>".encode() in written.content
            # A follow-up's new text is written in its author's language only.
            blocks = 1 + len(LANGUAGES[language]) if msg_type == "Alert" else 1
            assert written.content.count(b"<info>") == blocks
            _assert_decimal_degrees(written.content)

    async def test_a_circle_on_the_meridian_is_written_in_decimal_degrees(
        self, client: httpx.AsyncClient
    ) -> None:
        ward = unique_ward_code()
        headers = officer(ward)
        alert = await create_alert(
            client, headers, target_ward_codes=[ward], target_circles=[GREENWICH_MERIDIAN]
        )

        written = await client.get(f"/alerts/{alert['id']}/cap", headers=headers)

        assert b"<circle>51.476900,-0.000050 0.500</circle>" in written.content

    async def test_an_atom_feed_does_not_change_how_cap_is_written_afterwards(
        self, client: httpx.AsyncClient
    ) -> None:
        ward = unique_ward_code()
        headers = officer(ward)
        alert = await create_alert(client, headers, target_ward_codes=[ward])
        before = await client.get(f"/alerts/{alert['id']}/cap", headers=headers)

        feed = await client.get(f"/feeds/boroughs/{BOROUGH}.atom")
        after = await client.get(f"/alerts/{alert['id']}/cap", headers=headers)

        assert feed.status_code == 200
        assert feed.content.count(b'xmlns="http://www.w3.org/2005/Atom"') == 1
        assert after.content == before.content
        assert b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">' in after.content
        assert b"ns0:" not in after.content


def _assert_decimal_degrees(document: bytes) -> None:
    for shape in re.findall(rb"<(?:circle|polygon)>([^<]*)<", document):
        assert b"e" not in shape.lower(), shape
        for number in re.split(rb"[ ,]", shape):
            assert re.fullmatch(rb"-?\d+\.\d+", number), shape


class TestDerivedCrimeType:
    """The mapping table (cap/crime_types.py, documented in the README)."""

    @pytest.mark.parametrize(
        ("categories", "event", "codes", "expected"),
        [
            (["Rescue"], "Child Abduction", [("SAME", "CAE")], CrimeType.MISSING_PERSON),
            (["Rescue"], "Anything", [("same", "cae")], CrimeType.MISSING_PERSON),
            (["Security"], "Burglaries in Camden", [], CrimeType.BURGLARY),
            (["Security"], "Mugging near the station", [], CrimeType.ROBBERY),
            (["Security"], "Phone scam calls", [], CrimeType.FRAUD_OR_SCAM),
            (["Met"], "Severe Thunderstorm Warning", [("SAME", "SVR")], CrimeType.SAFETY_ADVICE),
            (["Transport"], "Lane restrictions", [], CrimeType.ROAD_CLOSURE),
            (["Security"], "Police activity", [("tawny", "robbery")], CrimeType.ROBBERY),
            (["Security"], "Police activity", [], CrimeType.OTHER),
            (["Other"], None, [], CrimeType.OTHER),
        ],
    )
    def test_most_specific_first_then_other(
        self,
        categories: list[str],
        event: str | None,
        codes: list[tuple[str, str]],
        expected: CrimeType,
    ) -> None:
        assert derive_crime_type(categories=categories, event=event, event_codes=codes) is expected
