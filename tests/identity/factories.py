"""Plain helpers that put members through identity's public API, and read what it staged."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.crypto import PersonalData
from services.identity.members.service import MemberService
from services.identity.models import AuditEntry, OutboxMessage
from services.identity.organisations.repository import OrganisationRepository
from shared.db import session_scope
from shared.events import MemberEmailVerified, VerificationEmailRequested

PASSWORD = "a sturdy passphrase 42"
VERIFY_PATH_PREFIX = "/api/identity"


def unique_email(label: str = "member") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


async def register(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/members", json={"email": email, "password": password})


async def staged_events(
    sessions: async_sessionmaker[AsyncSession], event_type: str, email: str
) -> list[OutboxMessage]:
    """Outbox rows of one type about one address, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.envelope["type"].astext == event_type,
                OutboxMessage.envelope["payload"]["email"].astext == email,
            )
            .order_by(OutboxMessage.position)
        )
        return list(rows)


async def verification_requests(
    sessions: async_sessionmaker[AsyncSession], email: str
) -> list[dict[str, Any]]:
    rows = await staged_events(sessions, VerificationEmailRequested.event_type, email)
    return [row.envelope["payload"] for row in rows]


async def verified_events(
    sessions: async_sessionmaker[AsyncSession], email: str
) -> list[dict[str, Any]]:
    rows = await staged_events(sessions, MemberEmailVerified.event_type, email)
    return [row.envelope["payload"] for row in rows]


def link_path(verify_url: str, base_url: str) -> str:
    """The emailed link points at the gateway; strip its prefix to call identity directly."""
    assert verify_url.startswith(base_url + VERIFY_PATH_PREFIX + "/email-verifications/")
    return verify_url.removeprefix(base_url + VERIFY_PATH_PREFIX)


def token_of(verify_url: str) -> str:
    return verify_url.rsplit("/", 1)[1]


async def register_and_verify(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    base_url: str,
    email: str,
    password: str = PASSWORD,
) -> None:
    assert (await register(client, email, password)).status_code == 202
    [request] = await verification_requests(sessions, email)
    response = await client.get(link_path(request["verify_url"], base_url))
    assert response.status_code == 200, response.text


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/tokens", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def create_member(
    sessions: async_sessionmaker[AsyncSession],
    settings: IdentitySettings,
    *roles: str,
    email: str | None = None,
    organisation_id: uuid.UUID | None = None,
    totp_exempt: bool = True,
) -> tuple[uuid.UUID, str]:
    """A verified member with these roles, committed; returns the id and the email. Staff are
    exempt from TOTP unless ``totp_exempt=False`` (as seeded development members are)."""
    email = email or unique_email("-".join(roles) or "member")
    async with session_scope(sessions) as session:
        member = await MemberService(session, settings).seed(
            email,
            PASSWORD,
            list(roles) or ["resident"],
            organisation_id=organisation_id,
            totp_exempt=totp_exempt,
        )
        assert member is not None
        return member.id, email


async def create_organisation(
    sessions: async_sessionmaker[AsyncSession],
    kind: str = "borough_command",
    ward_codes: tuple[str, ...] = ("E05009288", "E05009289"),
) -> uuid.UUID:
    async with session_scope(sessions) as session:
        organisation = await OrganisationRepository(session).insert_if_free(
            kind=kind,
            code=f"test-{uuid.uuid4().hex[:12]}",
            name="Test organisation",
            ward_codes=list(ward_codes),
        )
        assert organisation is not None
        return organisation.id


async def sign_in_body(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: str
) -> dict[str, Any]:
    response = await client.post("/tokens", json={"email": email, "password": password, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def staged_for_member(
    sessions: async_sessionmaker[AsyncSession], event_type: str, member_id: uuid.UUID
) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.envelope["type"].astext == event_type,
                OutboxMessage.envelope["payload"]["member_id"].astext == str(member_id),
            )
            .order_by(OutboxMessage.position)
        )
        return [row.envelope["payload"] for row in rows]


def email_index(email: str) -> str:
    """The blind index the test app files this address under (development keys)."""
    return PersonalData.from_settings(IdentitySettings(environment="test")).email_index(email)


async def signed_in_member(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: IdentitySettings,
    *roles: str,
    organisation_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, dict[str, str]]:
    """A new verified member with these roles, signed in: their id and bearer headers."""
    member_id, email = await create_member(
        sessions, settings, *roles, organisation_id=organisation_id
    )
    return member_id, bearer((await sign_in_body(client, email))["access_token"])


async def audit_actions(
    sessions: async_sessionmaker[AsyncSession], member_id: uuid.UUID
) -> list[str]:
    """The audit log's actions about one member, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.subject == f"member:{member_id}")
            .order_by(AuditEntry.position)
        )
        return list(rows)
