"""Organisations, their ward areas, and what tokens say about them."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.organisations.repository import OrganisationRepository
from services.identity.organisations.service import OrganisationService
from tests.identity.factories import (
    bearer,
    claims_of,
    create_member,
    create_organisation,
    sign_in_body,
)


def scheme(code: str | None = None) -> dict[str, object]:
    return {
        "kind": "nw_scheme",
        "code": code or f"nw-{uuid.uuid4().hex[:10]}",
        "name": "Aldgate East Neighbourhood Watch",
        "ward_codes": ["E05009289", "E05009288", "E05009289"],
    }


async def platform_admin(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: IdentitySettings,
) -> dict[str, str]:
    _, admin_email = await create_member(sessions, settings, "platform_admin")
    return bearer((await sign_in_body(client, admin_email))["access_token"])


class TestOrganisations:
    async def test_a_platform_admin_registers_a_scheme_with_its_wards(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin = await platform_admin(client, sessions, settings)
        body = scheme()

        response = await client.post("/organisations", json=body, headers=admin)

        assert response.status_code == 201, response.text
        created = response.json()
        assert created["ward_codes"] == ["E05009288", "E05009289"]
        fetched = await client.get(f"/organisations/{created['id']}", headers=admin)
        assert fetched.json() == created
        listed = await client.get("/organisations", params={"kind": "nw_scheme"}, headers=admin)
        assert created in listed.json()
        duplicate = await client.post("/organisations", json=body, headers=admin)
        assert duplicate.status_code == 409
        assert duplicate.headers["content-type"] == "application/problem+json"

    async def test_bad_ward_codes_and_long_names_are_422(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin = await platform_admin(client, sessions, settings)
        for change in (
            {"ward_codes": ["E09000001"]},
            {"name": "x" * 121},
            {"ward_codes": ["E05009288"] * 401},
            {"kind": "gang"},
        ):
            response = await client.post(
                "/organisations", json={**scheme(), **change}, headers=admin
            )
            assert response.status_code == 422, change

    async def test_an_unknown_organisation_is_404(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "officer")
        token = (await sign_in_body(client, email))["access_token"]
        response = await client.get(f"/organisations/{uuid.uuid4()}", headers=bearer(token))
        assert response.status_code == 404
        assert response.json()["type"].endswith("/organisation-not-found")


class TestTokensCarryTheOrganisation:
    async def test_an_officer_token_carries_the_command_and_its_wards(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        command = await create_organisation(sessions, ward_codes=("E05009288", "E05009289"))
        _, email = await create_member(sessions, settings, "officer", organisation_id=command)

        claims = claims_of((await sign_in_body(client, email))["access_token"])

        assert claims["org"] == str(command)
        assert claims["org_kind"] == "borough_command"
        assert claims["area"] == ["E05009288", "E05009289"]
        assert claims["area_boroughs"] == [claims["area_boroughs"][0]]
        assert claims["vl"] == "email"

    async def test_a_resident_token_has_no_area(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "resident")
        claims = claims_of((await sign_in_body(client, email))["access_token"])
        assert "org" not in claims and "area" not in claims


class TestBoroughCommandSeeding:
    async def test_one_command_per_borough_with_its_wards(
        self, session: AsyncSession, tmp_path: Path
    ) -> None:
        first, second = f"E09{uuid.uuid4().int % 10**6:06d}", f"E09{uuid.uuid4().int % 10**6:06d}"
        wards = tmp_path / "wards.csv"
        wards.write_text(
            "code,name,borough_code,borough_name\n"
            f"E05000002,B ward,{first},Camden\n"
            f"E05000001,A ward,{first},Camden\n"
            f"E05000003,C ward,{second},Hackney\n",
            encoding="utf-8",
        )

        assert await OrganisationService(session).seed_borough_commands(wards) == 2
        # Seeding again (every startup) changes nothing and creates nothing twice.
        assert await OrganisationService(session).seed_borough_commands(wards) == 2

        camden = await OrganisationRepository(session).get_by_code(first)
        assert camden is not None
        assert camden.kind == "borough_command"
        assert camden.name == "Camden borough command"
        assert camden.ward_codes == ["E05000001", "E05000002"]

    async def test_the_real_london_file_gives_thirty_three_commands(
        self, session: AsyncSession
    ) -> None:
        path = IdentitySettings(environment="development").wards_csv()
        if path is None:
            return
        assert await OrganisationService(session).seed_borough_commands(path) == 33


class TestOrganisationPages:
    async def test_cursor_pages_cover_every_organisation_once_in_order(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin = await platform_admin(client, sessions, settings)
        ours: set[str] = set()
        for _ in range(4):
            created = await client.post("/organisations", json=scheme(), headers=admin)
            ours.add(created.json()["code"])
        codes: list[str] = []

        for path in ("/organisations", "/schemes"):
            codes = []
            page = await client.get(path, params={"kind": "nw_scheme", "limit": 3}, headers=admin)
            while True:
                assert page.status_code == 200, page.text
                codes += [organisation["code"] for organisation in page.json()]
                if "next" not in page.links:
                    break
                assert page.headers["next-cursor"] in page.headers["link"]
                page = await client.get(page.url.join(page.links["next"]["url"]), headers=admin)

            assert codes == sorted(set(codes)), path
            assert ours <= set(codes), path
            assert "next-cursor" not in page.headers

    async def test_a_tampered_cursor_is_a_problem(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin = await platform_admin(client, sessions, settings)

        # Not base64 JSON; one key instead of two; a number where a code belongs.
        for cursor in ("%%%", "WyJ4Il0", "WyJ4IiwgMV0"):
            response = await client.get("/organisations", params={"cursor": cursor}, headers=admin)

            assert response.status_code == 400, cursor
            assert response.headers["content-type"] == "application/problem+json"
