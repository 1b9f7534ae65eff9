"""Guardrails while writing: required fields by type, suspects, the victim confirmation, expiry,
and the per-channel preview."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from services.alerts.authoring.preview import sms_preview
from services.alerts.authoring.schemas import AlertCreate
from tests.alerts.helpers import alert_request, create_alert, officer_headers
from tests.support.tokens import auth_header


def build(**overrides: Any) -> AlertCreate:
    return AlertCreate.model_validate(alert_request(**overrides))


class TestRequiredByType:
    def test_a_witness_appeal_needs_a_reference_and_a_contact_route(self) -> None:
        with pytest.raises(ValidationError, match="reference"):
            build(crime_type="witness_appeal", contact="Call 101")
        with pytest.raises(ValidationError, match="contact route"):
            build(crime_type="witness_appeal", reference="CAD 1234/23NOV")

        appeal = build(
            crime_type="witness_appeal", reference="CAD 1234/23NOV", web="https://met.police.uk/x"
        )
        assert appeal.reference == "CAD 1234/23NOV"

    def test_a_missing_person_alert_needs_a_contact(self) -> None:
        with pytest.raises(ValidationError, match="contact route"):
            build(crime_type="missing_person")

    def test_the_victim_details_confirmation_is_required(self) -> None:
        with pytest.raises(ValidationError, match="no_victim_details_confirmed"):
            build(no_victim_details_confirmed=False)
        request = alert_request()
        del request["no_victim_details_confirmed"]
        with pytest.raises(ValidationError):
            AlertCreate.model_validate(request)

    def test_a_target_needs_a_ward_or_a_borough(self) -> None:
        with pytest.raises(ValidationError, match="at least one ward or borough"):
            build(target_ward_codes=[])
        assert build(target_ward_codes=[], target_borough_codes=["E09000007"])

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("instruction", "x" * 1001),
            ("contact", "x" * 201),
            ("web", "http://insecure.example"),
            ("web", "https://" + "x" * 500),
            ("reference", "<script>"),
            ("target_borough_codes", ["E05000001"]),
            ("target_circles", [{"lat": 51.5, "lon": -0.1, "radius_km": 0}]),
            # An open or crossing polygon is the targeting contract's to refuse, with the
            # rest of the target (tests/alerts/targeting).
            ("target_polygons", [[[51.5, -0.1], [51.6]]]),
            ("translations", [{"language": "en-GB", "headline": "x", "description": "y"}]),
            ("channels", ["email", "email"]),
            # Tomorrow, but without a time zone.
            ("expires", (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None).isoformat()),
        ],
    )
    def test_limits_and_shapes(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError):
            build(**{field: value})


class TestSuspects:
    def test_a_description_of_ethnicity_alone_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="ethnic appearance alone"):
            build(suspects=[{"appearance": "described as white"}])

    def test_ethnicity_with_another_descriptor_is_accepted(self) -> None:
        alert = build(suspects=[{"appearance": "described as white", "clothing": "grey hoodie"}])
        assert alert.suspects[0].clothing == "grey hoodie"

    def test_unknown_descriptors_are_refused(self) -> None:
        with pytest.raises(ValidationError):
            build(suspects=[{"clothing": "red coat", "religion": "x"}])


class TestSmsPreview:
    def test_plain_text_is_gsm7_in_one_segment_up_to_160(self) -> None:
        preview = sms_preview("a" * 160)
        assert (preview.encoding, preview.units, preview.segments) == ("GSM-7", 160, 1)
        assert sms_preview("a" * 161).segments == 2
        assert sms_preview("a" * 307).segments == 3

    def test_extension_characters_count_twice(self) -> None:
        preview = sms_preview("€" * 80)
        assert (preview.encoding, preview.units, preview.segments) == ("GSM-7", 160, 1)

    def test_one_curly_quote_makes_it_ucs2(self) -> None:
        preview = sms_preview("Don\u2019t" + "a" * 65)
        assert (preview.encoding, preview.units, preview.segments) == ("UCS-2", 70, 1)
        assert preview.non_gsm_characters == ("\u2019",)
        assert sms_preview("\u2019" + "a" * 70).segments == 2


class TestEndpoints:
    async def test_preview_shows_each_channel(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/alerts/preview",
            json=alert_request(
                headline="Burglaries on Acacia Avenue",
                instruction="Lock doors \u2013 call 101",
                channels=["email", "sms", "push"],
                body="x " * 200,
            ),
            headers=officer_headers(),
        )

        assert response.status_code == 200, response.text
        preview = response.json()
        assert preview["sms"]["encoding"] == "UCS-2"
        assert preview["sms"]["non_gsm_characters"] == ["\u2013"]
        # The text dispatch will send: severity, sender, headline, then what to do.
        assert preview["sms"]["text"].startswith(
            "Tawny alert (Moderate, Tawny (tests)): Burglaries on Acacia Avenue\nLock doors"
        )
        assert preview["push"]["body_truncated"] is True
        assert len(preview["push"]["body"]) == 178
        assert preview["email"]["subject"] == "Tawny (tests): Burglaries on Acacia Avenue"

    async def test_expiry_defaults_to_seven_days(self, client: httpx.AsyncClient) -> None:
        alert = await create_alert(client)

        expires = datetime.fromisoformat(alert["expires"])
        created = datetime.fromisoformat(alert["created_at"])
        assert (
            timedelta(days=7) - timedelta(seconds=5)
            < expires - created
            < timedelta(days=7, seconds=5)
        )

    async def test_an_expiry_in_the_past_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/alerts",
            json=alert_request(expires="2020-01-01T00:00:00+00:00"),
            headers=officer_headers(),
        )
        assert response.status_code == 422
        assert response.json()["type"].endswith("/alert-invalid")

    async def test_a_cross_area_draft_is_403(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/alerts",
            json=alert_request(target_borough_codes=["E09000007", "E09000019"]),
            headers=auth_header(roles=["coordinator"], area_boroughs=["E09000007"]),
        )
        assert response.status_code == 403, response.text
        assert response.json()["type"].endswith("/alert-forbidden")

    async def test_self_approval_is_403(self, client: httpx.AsyncClient) -> None:
        member = uuid.uuid4()
        headers = auth_header(roles=["officer"], member_id=member, area_boroughs=["E09000007"])
        alert = await create_alert(
            client, headers, target_ward_codes=[], target_borough_codes=["E09000007"]
        )
        submitted = await client.post(f"/alerts/{alert['id']}/submit", headers=headers)
        assert submitted.status_code == 200, submitted.text

        response = await client.post(f"/alerts/{alert['id']}/approve", headers=headers)

        assert response.status_code == 403
        assert response.json()["type"].endswith("/alert-forbidden")
