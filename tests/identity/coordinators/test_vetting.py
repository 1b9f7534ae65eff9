"""Coordinator vetting: application, approval by a covering officer or a verifier with the
vetting reference and expiry, refusal with a reason, and the lapse of expired vettings."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity import maintenance
from services.identity.config import IdentitySettings
from services.identity.models import CoordinatorApplication, Member
from shared.db import session_scope, utcnow
from shared.events import MemberNoticeRequested
from tests.identity.factories import (
    audit_actions,
    claims_of,
    create_member,
    create_organisation,
    sign_in_body,
    signed_in_member,
    staged_for_member,
)

STATEMENT = "I have lived here for twelve years and run the residents' association."


def approval(days: int = 365) -> dict[str, str]:
    return {
        "vetting_reference": "MPS/NPPV2/48213",
        "vetting_expires_on": (utcnow().date() + timedelta(days=days)).isoformat(),
    }


async def apply(
    client: httpx.AsyncClient, headers: dict[str, str], scheme_id: uuid.UUID
) -> dict[str, Any]:
    response = await client.post(
        "/coordinator-applications",
        json={"scheme_id": str(scheme_id), "statement": STATEMENT},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


class TestApplication:
    async def test_an_officer_of_a_covering_borough_approves_and_the_member_coordinates(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        scheme_id = await create_organisation(sessions, "nw_scheme", ("E05009288",))
        command_id = await create_organisation(sessions, "borough_command", ("E05009288",))
        member_id, email = await create_member(sessions, settings, "resident")
        member = {"Authorization": f"Bearer {(await sign_in_body(client, email))['access_token']}"}
        _, officer = await signed_in_member(
            client, sessions, settings, "officer", organisation_id=command_id
        )
        application = await apply(client, member, scheme_id)
        assert application["status"] == "pending"
        queue = (await client.get("/verification-queue", headers=officer)).json()["items"]
        assert [item["id"] for item in queue if item["member_id"] == str(member_id)] == [
            application["id"]
        ]

        response = await client.post(
            f"/coordinator-applications/{application['id']}/approval",
            json=approval(),
            headers=officer,
        )

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "approved"
        assert response.json()["vetting_reference"] == "MPS/NPPV2/48213"
        claims = claims_of((await sign_in_body(client, email))["access_token"])
        assert "coordinator" in claims["roles"]
        assert claims["org"] == str(scheme_id)
        [notice] = await staged_for_member(sessions, MemberNoticeRequested.event_type, member_id)
        assert notice["kind"] == "coordinator_approved"
        assert await audit_actions(sessions, member_id) == ["coordinator.approved"]
        mine = (await client.get("/members/me/coordinator-applications", headers=member)).json()
        assert [a["status"] for a in mine] == ["approved"]

    async def test_an_officer_of_another_borough_may_not_but_a_verifier_may(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        scheme_id = await create_organisation(sessions, "nw_scheme", ("E05009288",))
        elsewhere = await create_organisation(sessions, "borough_command", ("E05000001",))
        _, member = await signed_in_member(client, sessions, settings)
        _, officer = await signed_in_member(
            client, sessions, settings, "officer", organisation_id=elsewhere
        )
        _, verifier = await signed_in_member(client, sessions, settings, "verifier")
        application = await apply(client, member, scheme_id)
        path = f"/coordinator-applications/{application['id']}/approval"

        hidden = await client.get(f"/coordinator-applications/{application['id']}", headers=officer)
        review = await client.get(
            f"/coordinator-applications/{application['id']}", headers=verifier
        )
        refused = await client.post(path, json=approval(), headers=officer)
        approved = await client.post(path, json=approval(), headers=verifier)

        assert hidden.status_code == 403
        assert review.status_code == 200
        assert review.json()["statement"] == STATEMENT and review.json()["pseudonym"]
        assert refused.status_code == 403
        assert approved.status_code == 200
        queue = (await client.get("/verification-queue", headers=officer)).json()["items"]
        assert all(item["id"] != application["id"] for item in queue)

    async def test_a_refusal_tells_the_member_why(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        scheme_id = await create_organisation(sessions, "nw_scheme", ("E05009288",))
        member_id, member = await signed_in_member(client, sessions, settings)
        _, verifier = await signed_in_member(client, sessions, settings, "verifier")
        application = await apply(client, member, scheme_id)

        response = await client.post(
            f"/coordinator-applications/{application['id']}/refusal",
            json={"reason": "Vetting was not granted"},
            headers=verifier,
        )
        again = await client.post(
            f"/coordinator-applications/{application['id']}/approval",
            json=approval(),
            headers=verifier,
        )

        assert response.status_code == 200 and response.json()["status"] == "refused"
        assert again.status_code == 409
        [notice] = await staged_for_member(sessions, MemberNoticeRequested.event_type, member_id)
        assert notice["kind"] == "coordinator_refused"
        assert "Vetting was not granted" in notice["body"]
        # Refused: the member may apply again.
        assert (await apply(client, member, scheme_id))["status"] == "pending"

    async def test_one_open_application_per_scheme_and_only_for_schemes(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        scheme_id = await create_organisation(sessions, "nw_scheme", ("E05009288",))
        command_id = await create_organisation(sessions, "borough_command")
        _, member = await signed_in_member(client, sessions, settings)
        await apply(client, member, scheme_id)

        twice = await client.post(
            "/coordinator-applications",
            json={"scheme_id": str(scheme_id), "statement": STATEMENT},
            headers=member,
        )
        not_a_scheme = await client.post(
            "/coordinator-applications",
            json={"scheme_id": str(command_id), "statement": STATEMENT},
            headers=member,
        )

        assert (twice.status_code, not_a_scheme.status_code) == (409, 404)

    async def test_the_vetting_must_outlive_today(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        scheme_id = await create_organisation(sessions, "nw_scheme", ("E05009288",))
        _, member = await signed_in_member(client, sessions, settings)
        _, verifier = await signed_in_member(client, sessions, settings, "verifier")
        application = await apply(client, member, scheme_id)

        response = await client.post(
            f"/coordinator-applications/{application['id']}/approval",
            json=approval(days=0),
            headers=verifier,
        )

        assert response.status_code == 409


class TestLapse:
    async def test_an_expired_vetting_lapses_the_role_audits_and_tells_the_member(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        scheme_id = await create_organisation(sessions, "nw_scheme", ("E05009288",))
        member_id, email = await create_member(sessions, settings, "resident")
        member = {"Authorization": f"Bearer {(await sign_in_body(client, email))['access_token']}"}
        _, verifier = await signed_in_member(client, sessions, settings, "verifier")
        application = await apply(client, member, scheme_id)
        await client.post(
            f"/coordinator-applications/{application['id']}/approval",
            json=approval(),
            headers=verifier,
        )
        async with session_scope(sessions) as session:
            await session.execute(
                update(CoordinatorApplication)
                .where(CoordinatorApplication.id == uuid.UUID(application["id"]))
                .values(vetting_expires_on=utcnow().date() - timedelta(days=1))
            )

        lapsed, _ = await maintenance.run_once(app.state.runtime, settings)

        assert lapsed >= 1
        async with sessions() as session:
            row = await session.get(Member, member_id)
            assert row is not None
            assert row.roles == ["resident"] and row.organisation_id is None
        claims = claims_of((await sign_in_body(client, email))["access_token"])
        assert "coordinator" not in claims["roles"]
        notices = await staged_for_member(sessions, MemberNoticeRequested.event_type, member_id)
        assert [notice["kind"] for notice in notices] == [
            "coordinator_approved",
            "coordinator_lapsed",
        ]
        assert await audit_actions(sessions, member_id) == [
            "coordinator.approved",
            "coordinator.lapsed",
        ]
        mine = (await client.get("/members/me/coordinator-applications", headers=member)).json()
        assert [a["status"] for a in mine] == ["lapsed"]
        # Nothing left to lapse: a second pass (another replica) finds nothing of this member's.
        await maintenance.run_once(app.state.runtime, settings)
        assert await audit_actions(sessions, member_id) == [
            "coordinator.approved",
            "coordinator.lapsed",
        ]

    async def test_two_replicas_at_once_lapse_each_vetting_once(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        scheme_id = await create_organisation(sessions, "nw_scheme", ("E05009288",))
        _, verifier = await signed_in_member(client, sessions, settings, "verifier")
        members = [await signed_in_member(client, sessions, settings) for _ in range(3)]
        for _, headers in members:
            application = await apply(client, headers, scheme_id)
            await client.post(
                f"/coordinator-applications/{application['id']}/approval",
                json=approval(),
                headers=verifier,
            )
        async with session_scope(sessions) as session:
            await session.execute(
                update(CoordinatorApplication)
                .where(CoordinatorApplication.scheme_id == scheme_id)
                .values(vetting_expires_on=utcnow().date())
            )

        await asyncio.gather(
            maintenance.run_once(app.state.runtime, settings),
            maintenance.run_once(app.state.runtime, settings),
        )

        for member_id, _ in members:
            assert (await audit_actions(sessions, member_id)).count("coordinator.lapsed") == 1
            notices = await staged_for_member(sessions, MemberNoticeRequested.event_type, member_id)
            assert [n["kind"] for n in notices].count("coordinator_lapsed") == 1
