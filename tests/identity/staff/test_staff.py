"""Roles and organisation, suspension: what admins may do and what follows from it."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from shared.events import MemberReinstated, MemberSuspended
from tests.identity.factories import (
    PASSWORD,
    bearer,
    claims_of,
    create_member,
    create_organisation,
    sign_in_body,
    staged_for_member,
)


async def token_for(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: IdentitySettings,
    *roles: str,
    organisation_id: uuid.UUID | None = None,
) -> dict[str, str]:
    _, email = await create_member(sessions, settings, *roles, organisation_id=organisation_id)
    return bearer((await sign_in_body(client, email))["access_token"])


class TestRoles:
    async def test_a_platform_admin_makes_a_member_an_officer_of_a_command(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin = await token_for(client, sessions, settings, "platform_admin")
        command = await create_organisation(sessions)
        member_id, email = await create_member(sessions, settings, "resident")

        response = await client.put(
            f"/members/{member_id}/roles",
            json={"roles": ["officer", "resident"], "organisation_id": str(command)},
            headers=admin,
        )

        assert response.status_code == 200, response.text
        assert response.json()["roles"] == ["officer", "resident"]
        assert set(response.json()) == {
            "member_id",
            "pseudonym",
            "roles",
            "organisation_id",
            "verification_level",
            "suspended_at",
        }
        claims = claims_of((await sign_in_body(client, email))["access_token"])
        assert claims["roles"] == ["officer", "resident"]
        assert claims["org"] == str(command)

    async def test_an_org_admin_acts_only_within_their_organisation(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        scheme, other = await create_organisation(sessions), await create_organisation(sessions)
        org_admin = await token_for(client, sessions, settings, "org_admin", organisation_id=scheme)
        newcomer, _ = await create_member(sessions, settings, "resident")
        outsider, _ = await create_member(sessions, settings, "resident", organisation_id=other)

        joined = await client.put(
            f"/members/{newcomer}/roles",
            json={"roles": ["coordinator"], "organisation_id": str(scheme)},
            headers=org_admin,
        )
        assert joined.status_code == 200, joined.text

        for member_id, body in (
            (outsider, {"roles": ["coordinator"], "organisation_id": str(other)}),
            (newcomer, {"roles": ["coordinator"], "organisation_id": str(other)}),
            (newcomer, {"roles": ["platform_admin"], "organisation_id": str(scheme)}),
        ):
            refused = await client.put(f"/members/{member_id}/roles", json=body, headers=org_admin)
            assert refused.status_code == 403, body
            assert refused.headers["content-type"] == "application/problem+json"

    async def test_unknown_roles_members_and_organisations(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin = await token_for(client, sessions, settings, "platform_admin")
        member_id, _ = await create_member(sessions, settings, "resident")
        bad_role = await client.put(
            f"/members/{member_id}/roles", json={"roles": ["sheriff"]}, headers=admin
        )
        assert bad_role.status_code == 422
        no_member = await client.put(
            f"/members/{uuid.uuid4()}/roles", json={"roles": ["resident"]}, headers=admin
        )
        assert no_member.status_code == 404
        no_org = await client.put(
            f"/members/{member_id}/roles",
            json={"roles": ["resident"], "organisation_id": str(uuid.uuid4())},
            headers=admin,
        )
        assert no_org.status_code == 404


class TestSuspension:
    async def test_suspension_stops_refresh_sign_in_and_identity_at_once(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin = await token_for(client, sessions, settings, "platform_admin")
        member_id, email = await create_member(sessions, settings, "resident")
        tokens = await sign_in_body(client, email)

        response = await client.post(
            f"/members/{member_id}/suspension", json={"reason": "doxxing"}, headers=admin
        )

        assert response.status_code == 200
        assert response.json()["suspended_at"] is not None
        refresh = await client.post(
            "/tokens/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refresh.status_code == 401
        sign_in = await client.post("/tokens", json={"email": email, "password": PASSWORD})
        assert sign_in.status_code == 403
        assert sign_in.json()["type"].endswith("/account-suspended")
        me = await client.get("/members/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 403
        assert await staged_for_member(sessions, MemberSuspended.event_type, member_id) == [
            {"member_id": str(member_id)}
        ]

        lifted = await client.delete(f"/members/{member_id}/suspension", headers=admin)

        assert lifted.status_code == 204
        await sign_in_body(client, email)
        assert len(await staged_for_member(sessions, MemberReinstated.event_type, member_id)) == 1

    async def test_the_reason_has_a_length_limit(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin = await token_for(client, sessions, settings, "platform_admin")
        member_id, _ = await create_member(sessions, settings, "resident")
        response = await client.post(
            f"/members/{member_id}/suspension", json={"reason": "x" * 501}, headers=admin
        )
        assert response.status_code == 422
