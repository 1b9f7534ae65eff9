"""An alert's pictures: uploaded to a draft, stripped of every kind of metadata (GPS EXIF
above all), served once public, and named in the CAP document; hostile files refused with 4xx."""

from __future__ import annotations

import hashlib
import io
import uuid
from typing import Any

import httpx
import pytest
import xmlschema
from PIL import Image

from services.alerts.cap.document import CAP_NS
from services.alerts.cap.reading import parse_xml
from tests.alerts.conftest import CAP_XSD
from tests.alerts.helpers import create_alert, officer_headers
from tests.alerts.images.pictures import (
    GPS_IFD,
    SECRET,
    decompression_bomb,
    gif,
    photo,
)
from tests.support.tokens import auth_header

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return decompression_bomb()


async def upload(
    client: httpx.AsyncClient,
    alert_id: str,
    data: bytes,
    headers: dict[str, str],
    *,
    description: str | None = "CCTV still of the van",
    filename: str = "picture",
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    form = {"description": description} if description is not None else {}
    return await client.post(
        f"/alerts/{alert_id}/images",
        files={"file": (filename, data, content_type)},
        data=form,
        headers=headers,
    )


async def draft(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, str]]:
    headers = officer_headers()
    return await create_alert(client, headers), headers


class TestMetadataIsStripped:
    @pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP"])
    async def test_gps_exif_and_every_other_metadata_are_gone(
        self, client: httpx.AsyncClient, format: str
    ) -> None:
        original = photo(format)
        assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)
        alert, headers = await draft(client)

        created = await upload(client, alert["id"], original, headers)

        assert created.status_code == 201, created.text
        body = created.json()
        assert body["position"] == 1
        assert body["mime_type"] == MEDIA_TYPES[format]
        served = await client.get(f"/alerts/{alert['id']}/images/1", headers=headers)
        assert served.status_code == 200
        assert served.headers["content-type"] == MEDIA_TYPES[format]
        stored = served.content
        assert SECRET.encode() not in stored
        image = Image.open(io.BytesIO(stored))
        assert image.format == format
        assert image.size == (64, 48)
        assert dict(image.getexif()) == {}
        assert not image.getexif().get_ifd(GPS_IFD)
        assert not {"exif", "xmp", "comment", "icc_profile", "Comment"} & set(image.info)
        assert body["sha1"] == hashlib.sha1(stored, usedforsecurity=False).hexdigest()
        assert body["size_bytes"] == len(stored)


class TestHostilePictures:
    async def test_a_decompression_bomb_is_refused_unread(
        self, client: httpx.AsyncClient, bomb: bytes
    ) -> None:
        alert, headers = await draft(client)

        response = await upload(client, alert["id"], bomb, headers)

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"

    async def test_a_side_beyond_the_limit_is_refused(self, client: httpx.AsyncClient) -> None:
        alert, headers = await draft(client)
        out = io.BytesIO()
        Image.new("L", (9000, 2)).save(out, "PNG")

        response = await upload(client, alert["id"], out.getvalue(), headers)

        assert response.status_code == 422

    @pytest.mark.parametrize(
        "data",
        [gif(), b"%PDF-1.7 not a picture", b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
        ids=["gif", "pdf", "svg"],
    )
    async def test_other_types_are_refused(self, client: httpx.AsyncClient, data: bytes) -> None:
        alert, headers = await draft(client)

        response = await upload(client, alert["id"], data, headers, content_type="image/jpeg")

        assert response.status_code == 415

    async def test_a_damaged_picture_is_refused(self, client: httpx.AsyncClient) -> None:
        alert, headers = await draft(client)

        response = await upload(client, alert["id"], photo("JPEG")[:300], headers)

        assert response.status_code == 422

    async def test_too_many_bytes_are_refused(self, client: httpx.AsyncClient) -> None:
        alert, headers = await draft(client)

        response = await upload(client, alert["id"], b"\xff" * (6 * 1024 * 1024), headers)

        assert response.status_code == 413

    async def test_a_body_that_is_not_a_form_is_refused(self, client: httpx.AsyncClient) -> None:
        alert, headers = await draft(client)

        response = await client.post(
            f"/alerts/{alert['id']}/images", content=photo(), headers=headers
        )

        assert response.status_code == 415

    async def test_a_description_is_required(self, client: httpx.AsyncClient) -> None:
        alert, headers = await draft(client)

        response = await upload(client, alert["id"], photo(), headers, description=None)

        assert response.status_code == 422


class TestImageRules:
    async def test_at_most_three_and_removing_one_frees_its_place(
        self, client: httpx.AsyncClient
    ) -> None:
        alert, headers = await draft(client)
        for expected in (1, 2, 3):
            created = await upload(client, alert["id"], photo(), headers)
            assert created.json()["position"] == expected

        assert (await upload(client, alert["id"], photo(), headers)).status_code == 409
        removed = await client.delete(f"/alerts/{alert['id']}/images/2", headers=headers)
        assert removed.status_code == 204
        again = await upload(client, alert["id"], photo("PNG"), headers)
        assert again.json()["position"] == 2

    async def test_only_drafts_take_pictures_and_only_from_their_people(
        self, client: httpx.AsyncClient
    ) -> None:
        alert, headers = await draft(client)
        stranger = auth_header(roles=["coordinator"], area=["E05000001"])

        assert (await upload(client, alert["id"], photo(), stranger)).status_code == 403
        await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
        assert (await upload(client, alert["id"], photo(), headers)).status_code == 409

    async def test_pictures_are_public_only_once_the_alert_is(
        self, client: httpx.AsyncClient
    ) -> None:
        alert, headers = await draft(client)
        await upload(client, alert["id"], photo(), headers)

        assert (await client.get(f"/alerts/{alert['id']}/images/1")).status_code == 401
        await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
        served = await client.get(f"/alerts/{alert['id']}/images/1")
        assert served.status_code == 200
        assert served.headers["x-content-type-options"] == "nosniff"
        assert (await client.get(f"/alerts/{alert['id']}/images/3")).status_code == 404
        listed = (await client.get(f"/alerts/{alert['id']}/images")).json()
        assert [image["position"] for image in listed] == [1]

    async def test_the_cap_document_names_each_picture_as_a_resource(
        self, client: httpx.AsyncClient
    ) -> None:
        alert, headers = await draft(client)
        await upload(client, alert["id"], photo("JPEG"), headers, description="The van")
        await upload(client, alert["id"], photo("PNG"), headers, description="The jacket")
        await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
        update = await client.post(
            f"/alerts/{alert['id']}/updates",
            json={"instruction": "Avoid Mill Lane.", "no_victim_details_confirmed": True},
            headers=headers,
        )

        for message_id in (alert["id"], update.json()["id"]):
            document = (await client.get(f"/alerts/{message_id}/cap")).content
            if CAP_XSD.is_file():
                xmlschema.XMLSchema(str(CAP_XSD)).validate(document)
            root = parse_xml(document)
            resources = root.findall(f"{{{CAP_NS}}}info/{{{CAP_NS}}}resource")
            found = [
                {child.tag.split("}")[1]: child.text for child in resource}
                for resource in resources
            ]
            assert [r["resourceDesc"] for r in found] == ["The van", "The jacket"]
            assert [r["mimeType"] for r in found] == ["image/jpeg", "image/png"]
            for number, resource in enumerate(found, start=1):
                assert resource["uri"] is not None
                assert resource["uri"].endswith(f"/alerts/{alert['id']}/images/{number}")
                served = (await client.get(f"/alerts/{alert['id']}/images/{number}")).content
                assert resource["digest"] == hashlib.sha1(served, usedforsecurity=False).hexdigest()
                assert resource["size"] == str(len(served))

    async def test_an_unknown_alert_has_no_pictures(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/alerts/{uuid.uuid4()}/images/1")

        assert response.status_code == 404
