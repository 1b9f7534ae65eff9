"""API clients: a secret shown once, client-credentials tokens, rotation, revocation."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.models import ApiClient
from shared.auth import JWKSVerifier
from tests.identity.factories import bearer, create_member, create_organisation, sign_in_body

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def admin_headers(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: IdentitySettings,
    role: str = "platform_admin",
    organisation_id: uuid.UUID | None = None,
) -> dict[str, str]:
    _, email = await create_member(sessions, settings, role, organisation_id=organisation_id)
    return bearer((await sign_in_body(client, email))["access_token"])


async def client_token(
    client: httpx.AsyncClient, client_id: str, secret: str, scope: str | None = None
) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scope is not None:
        form["scope"] = scope
    return await client.post("/oauth/token", data=form, headers=FORM)


class TestApiClients:
    async def test_a_client_gets_tokens_with_its_scopes_and_area(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
        verifier: JWKSVerifier,
    ) -> None:
        admin = await admin_headers(client, sessions, settings)
        command = await create_organisation(sessions, ward_codes=("E05009288",))
        created = await client.post(
            "/api-clients",
            json={
                "name": "Control room CAD",
                "organisation_id": str(command),
                "scopes": ["cap:write", "alerts:write"],
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        assert created.headers["cache-control"] == "no-store"
        body = created.json()
        secret = body["client_secret"]
        async with sessions() as session:
            stored = await session.scalar(
                select(ApiClient).where(ApiClient.id == uuid.UUID(body["id"]))
            )
        assert stored is not None and secret not in stored.secret_hash

        response = await client_token(client, body["id"], secret)

        assert response.status_code == 200, response.text
        token = response.json()
        assert token["scope"] == "alerts:write cap:write"
        principal = await verifier.verify(token["access_token"])
        assert principal.scopes == frozenset({"alerts:write", "cap:write"})
        assert principal.organisation_id == command
        assert principal.area_ward_codes == ("E05009288",)
        assert principal.roles == frozenset()
        listed = (await client.get("/api-clients", headers=admin)).json()
        [mine] = [entry for entry in listed if entry["id"] == body["id"]]
        assert mine["last_used_at"] is not None
        assert "client_secret" not in mine

    async def test_basic_auth_and_narrowed_scope(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin = await admin_headers(client, sessions, settings)
        command = await create_organisation(sessions)
        body = (
            await client.post(
                "/api-clients",
                json={
                    "name": "Feeds",
                    "organisation_id": str(command),
                    "scopes": ["alerts:read", "alerts:write"],
                },
                headers=admin,
            )
        ).json()
        basic = httpx.BasicAuth(body["id"], body["client_secret"])

        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "alerts:read"},
            headers=FORM,
            auth=basic,
        )
        assert response.status_code == 200, response.text
        assert response.json()["scope"] == "alerts:read"

        wider = await client_token(client, body["id"], body["client_secret"], "cap:write")
        assert wider.status_code == 400
        assert wider.json()["error"] == "invalid_scope"

    async def test_rotation_and_revocation_stop_the_old_secret(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        command = await create_organisation(sessions)
        org_admin = await admin_headers(
            client, sessions, settings, "org_admin", organisation_id=command
        )
        body = (
            await client.post(
                "/api-clients",
                json={"name": "CAD", "organisation_id": str(command), "scopes": ["cap:write"]},
                headers=org_admin,
            )
        ).json()

        rotated = await client.post(f"/api-clients/{body['id']}/secret-rotation", headers=org_admin)

        assert rotated.status_code == 200
        new_secret = rotated.json()["client_secret"]
        assert new_secret != body["client_secret"]
        old = await client_token(client, body["id"], body["client_secret"])
        assert old.status_code == 401
        assert old.json()["error"] == "invalid_client"
        assert (await client_token(client, body["id"], new_secret)).status_code == 200

        revoked = await client.delete(f"/api-clients/{body['id']}", headers=org_admin)
        assert revoked.status_code == 204
        assert (await client_token(client, body["id"], new_secret)).status_code == 401

    async def test_an_org_admin_cannot_create_for_another_organisation(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        mine, theirs = await create_organisation(sessions), await create_organisation(sessions)
        org_admin = await admin_headers(
            client, sessions, settings, "org_admin", organisation_id=mine
        )
        response = await client.post(
            "/api-clients",
            json={"name": "CAD", "organisation_id": str(theirs), "scopes": ["cap:write"]},
            headers=org_admin,
        )
        assert response.status_code == 403

    async def test_bad_token_requests(self, client: httpx.AsyncClient) -> None:
        unknown = await client_token(client, str(uuid.uuid4()), "secret")
        assert unknown.status_code == 401
        not_a_uuid = await client_token(client, "nope", "secret")
        assert not_a_uuid.status_code == 401
        grant = await client.post("/oauth/token", data={"grant_type": "password"}, headers=FORM)
        assert grant.status_code == 400
        assert grant.json()["error"] == "unsupported_grant_type"
        as_json = await client.post("/oauth/token", json={"grant_type": "client_credentials"})
        assert as_json.status_code == 422
        too_long = await client_token(client, "x" * 201, "secret")
        assert too_long.status_code == 422
        for response in (unknown, grant, as_json, too_long):
            assert response.headers["content-type"] == "application/problem+json"

    async def test_unknown_scopes_and_long_names_are_422(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin = await admin_headers(client, sessions, settings)
        command = await create_organisation(sessions)
        for body in (
            {"name": "CAD", "organisation_id": str(command), "scopes": ["admin:all"]},
            {"name": "x" * 121, "organisation_id": str(command), "scopes": ["cap:write"]},
            {"name": "CAD", "organisation_id": str(command), "scopes": []},
        ):
            assert (await client.post("/api-clients", json=body, headers=admin)).status_code == 422
