"""Who may call what: every identity endpoint against anonymous callers and every role.

A route added without a row here fails ``test_every_route_is_in_the_matrix``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.members.repository import MemberRepository
from services.identity.models import ApiClient, Role
from shared.db import session_scope, utcnow
from tests.identity.factories import (
    bearer,
    create_member,
    create_organisation,
    email_index,
    sign_in_body,
    unique_email,
)

ANONYMOUS = "anonymous"
EVERYONE = frozenset({ANONYMOUS, *(role.value for role in Role)})
SIGNED_IN = frozenset(role.value for role in Role)
STAFF = frozenset({"coordinator", "officer", "partner", "verifier", "org_admin", "platform_admin"})
MEMBER_ADMINS = frozenset({"org_admin", "platform_admin"})
PLATFORM_ADMINS = frozenset({"platform_admin"})
VERIFIERS = frozenset({"verifier"})
OFFICERS = frozenset({"officer"})
VETTERS = frozenset({"officer", "verifier"})
REVEAL_APPROVERS = frozenset({"officer", "verifier", "platform_admin"})
# Vetting that is still valid whenever the tests run.
VETTED_UNTIL = (date.today() + timedelta(days=3 * 365)).isoformat()
OUTSIDE_LONDON = {"name": "Matrix", "address_lines": ["1 High Street"], "postcode": "GU1 1AA"}


@dataclass(frozen=True)
class Context:
    client: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    settings: IdentitySettings
    organisation_id: uuid.UUID

    async def fresh_member(self) -> uuid.UUID:
        """A member to act on; never signs in, so no (slow) real password hash."""
        async with session_scope(self.sessions) as session:
            member = await MemberRepository(session).insert_if_free(
                email_index=email_index(unique_email("target")),
                email_encrypted=b"unused",
                password_hash="not-a-hash",
                pseudonym=f"Target {uuid.uuid4().hex[:12]}",
                roles=["resident"],
                email_verified_at=utcnow(),
            )
        assert member is not None
        return member.id


Call = Callable[[Context, dict[str, str]], Awaitable[httpx.Response]]


def _call(method: str, path: str, body: Any = None) -> Call:
    async def call(context: Context, headers: dict[str, str]) -> httpx.Response:
        return await context.client.request(method, path, json=body, headers=headers)

    return call


def _on_fresh_member(method: str, suffix: str, body: Any = None) -> Call:
    async def call(context: Context, headers: dict[str, str]) -> httpx.Response:
        member_id = await context.fresh_member()
        return await context.client.request(
            method, f"/members/{member_id}{suffix}", json=body, headers=headers
        )

    return call


def _on_organisation() -> Call:
    async def call(context: Context, headers: dict[str, str]) -> httpx.Response:
        return await context.client.get(
            f"/organisations/{context.organisation_id}", headers=headers
        )

    return call


def _new_scheme() -> Call:
    async def call(context: Context, headers: dict[str, str]) -> httpx.Response:
        body = {
            "kind": "nw_scheme",
            "code": f"nw-{uuid.uuid4().hex[:10]}",
            "name": "Matrix scheme",
            "ward_codes": ["E05009288"],
        }
        return await context.client.post("/organisations", json=body, headers=headers)

    return call


def _new_api_client() -> Call:
    async def call(context: Context, headers: dict[str, str]) -> httpx.Response:
        body = {
            "name": "Matrix client",
            "organisation_id": str(context.organisation_id),
            "scopes": ["alerts:read"],
        }
        return await context.client.post("/api-clients", json=body, headers=headers)

    return call


def _on_api_client(method: str, suffix: str) -> Call:
    async def call(context: Context, headers: dict[str, str]) -> httpx.Response:
        async with session_scope(context.sessions) as session:
            client = ApiClient(
                name="Matrix target",
                organisation_id=context.organisation_id,
                scopes=["alerts:read"],
                secret_hash="0" * 64,
            )
            session.add(client)
            await session.flush()
            client_id = client.id
        return await context.client.request(
            method, f"/api-clients/{client_id}{suffix}", headers=headers
        )

    return call


def _upload(path: str, form: dict[str, Any] | None = None) -> Call:
    """A GIF, which is refused (415) once the caller is let in: nothing is stored."""

    async def call(context: Context, headers: dict[str, str]) -> httpx.Response:
        return await context.client.post(
            path,
            data=form or {},
            files={"file": ("x.gif", b"GIF89a" + bytes(20), "image/gif")},
            headers=headers,
        )

    return call


def _on_unknown(method: str, template: str, body: Any = None) -> Call:
    """A route about a record that does not exist: let in, it answers 404."""

    async def call(context: Context, headers: dict[str, str]) -> httpx.Response:
        path = template.format(id=uuid.uuid4())
        return await context.client.request(method, path, json=body, headers=headers)

    return call


def _new_reveal() -> Call:
    async def call(context: Context, headers: dict[str, str]) -> httpx.Response:
        body = {"member_id": str(await context.fresh_member()), "reason": "Matrix reveal test"}
        return await context.client.post("/identity-reveals", json=body, headers=headers)

    return call


def _client_credentials() -> Call:
    async def call(context: Context, headers: dict[str, str]) -> httpx.Response:
        return await context.client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": str(uuid.uuid4()),
                "client_secret": "nope",
            },
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        )

    return call


# (method, route path, who may call it, how to call it)
MATRIX: list[tuple[str, str, frozenset[str], Call]] = [
    (
        "POST",
        "/members",
        EVERYONE,
        _call("POST", "/members", {"email": "m@example.com", "password": "a sturdy passphrase 42"}),
    ),
    ("GET", "/email-verifications/{token}", EVERYONE, _call("GET", "/email-verifications/nope")),
    (
        "POST",
        "/email-verifications",
        EVERYONE,
        _call("POST", "/email-verifications", {"token": "nope"}),
    ),
    ("GET", "/members/me", SIGNED_IN, _call("GET", "/members/me")),
    (
        "POST",
        "/tokens",
        EVERYONE,
        _call("POST", "/tokens", {"email": "nobody@example.com", "password": "whatever it is"}),
    ),
    (
        "POST",
        "/tokens/refresh",
        EVERYONE,
        _call("POST", "/tokens/refresh", {"refresh_token": "nope"}),
    ),
    (
        "POST",
        "/tokens/revocation",
        EVERYONE,
        _call("POST", "/tokens/revocation", {"refresh_token": "nope"}),
    ),
    ("POST", "/signing-keys/rotation", PLATFORM_ADMINS, _call("POST", "/signing-keys/rotation")),
    ("GET", "/.well-known/jwks.json", EVERYONE, _call("GET", "/.well-known/jwks.json")),
    (
        "POST",
        "/password-resets",
        EVERYONE,
        _call("POST", "/password-resets", {"email": "nobody@example.com"}),
    ),
    (
        "POST",
        "/password-resets/confirmation",
        EVERYONE,
        _call(
            "POST",
            "/password-resets/confirmation",
            {"token": "nope", "password": "a sturdy passphrase 42"},
        ),
    ),
    ("POST", "/members/me/totp", SIGNED_IN, _call("POST", "/members/me/totp")),
    (
        "POST",
        "/members/me/totp/confirmation",
        SIGNED_IN,
        _call("POST", "/members/me/totp/confirmation", {"code": "000000"}),
    ),
    (
        "POST",
        "/members/me/sign-out-everywhere",
        SIGNED_IN,
        _call("POST", "/members/me/sign-out-everywhere"),
    ),
    ("POST", "/organisations", PLATFORM_ADMINS, _new_scheme()),
    ("GET", "/organisations", STAFF, _call("GET", "/organisations")),
    ("GET", "/organisations/{organisation_id}", STAFF, _on_organisation()),
    ("GET", "/schemes", SIGNED_IN, _call("GET", "/schemes")),
    (
        "PUT",
        "/members/{member_id}/roles",
        MEMBER_ADMINS,
        _on_fresh_member("PUT", "/roles", {"roles": ["resident"]}),
    ),
    (
        "POST",
        "/members/{member_id}/suspension",
        MEMBER_ADMINS,
        _on_fresh_member("POST", "/suspension", {"reason": "matrix test"}),
    ),
    (
        "DELETE",
        "/members/{member_id}/suspension",
        MEMBER_ADMINS,
        _on_fresh_member("DELETE", "/suspension"),
    ),
    ("GET", "/audit-log", PLATFORM_ADMINS, _call("GET", "/audit-log")),
    ("POST", "/api-clients", MEMBER_ADMINS, _new_api_client()),
    ("GET", "/api-clients", MEMBER_ADMINS, _call("GET", "/api-clients")),
    (
        "POST",
        "/api-clients/{client_id}/secret-rotation",
        MEMBER_ADMINS,
        _on_api_client("POST", "/secret-rotation"),
    ),
    ("DELETE", "/api-clients/{client_id}", MEMBER_ADMINS, _on_api_client("DELETE", "")),
    ("POST", "/oauth/token", EVERYONE, _client_credentials()),
    ("GET", "/members/me/export", SIGNED_IN, _call("GET", "/members/me/export")),
    # A wrong password: let in, then refused for the password, and nobody is erased.
    (
        "POST",
        "/members/me/erasure",
        SIGNED_IN,
        _call("POST", "/members/me/erasure", {"password": "not the password"}),
    ),
    (
        "POST",
        "/members/{member_id}/erasure",
        PLATFORM_ADMINS,
        _on_fresh_member("POST", "/erasure", {"reason": "matrix test"}),
    ),
    (
        "PUT",
        "/members/me/personal-details",
        SIGNED_IN,
        _call("PUT", "/members/me/personal-details", {"name": "Matrix"}),
    ),
    (
        "POST",
        "/members/me/totp/recovery-codes",
        SIGNED_IN,
        _call("POST", "/members/me/totp/recovery-codes", {"code": "000000"}),
    ),
    (
        "POST",
        "/members/{member_id}/totp-reset",
        PLATFORM_ADMINS,
        _on_fresh_member("POST", "/totp-reset", {"reason": "matrix test"}),
    ),
    (
        "POST",
        "/members/me/address/letter",
        SIGNED_IN,
        _call("POST", "/members/me/address/letter", OUTSIDE_LONDON),
    ),
    (
        "POST",
        "/members/me/address/proof",
        SIGNED_IN,
        _upload("/members/me/address/proof", OUTSIDE_LONDON),
    ),
    (
        "POST",
        "/members/me/address/confirmation",
        SIGNED_IN,
        _call("POST", "/members/me/address/confirmation", {"code": "AAAAAAAA"}),
    ),
    ("GET", "/members/me/address", SIGNED_IN, _call("GET", "/members/me/address")),
    (
        "GET",
        "/address-verifications/{verification_id}",
        VERIFIERS,
        _on_unknown("GET", "/address-verifications/{id}"),
    ),
    (
        "GET",
        "/verification-documents/{document_id}",
        VERIFIERS,
        _on_unknown("GET", "/verification-documents/{id}"),
    ),
    (
        "POST",
        "/address-verifications/{verification_id}/decision",
        VERIFIERS,
        _on_unknown("POST", "/address-verifications/{id}/decision", {"approve": True}),
    ),
    (
        "POST",
        "/members/me/identity-documents",
        SIGNED_IN,
        _upload("/members/me/identity-documents"),
    ),
    (
        "POST",
        "/members/{member_id}/identity-checks",
        VERIFIERS,
        _on_fresh_member(
            "POST",
            "/identity-checks",
            {"document_type": "passport", "outcome": "fail", "checked_on": "2026-01-01"},
        ),
    ),
    ("GET", "/verification-queue", VETTERS, _call("GET", "/verification-queue")),
    (
        "POST",
        "/coordinator-applications",
        SIGNED_IN,
        _on_unknown(
            "POST",
            "/coordinator-applications",
            {"scheme_id": str(uuid.uuid4()), "statement": "A matrix application"},
        ),
    ),
    (
        "GET",
        "/members/me/coordinator-applications",
        SIGNED_IN,
        _call("GET", "/members/me/coordinator-applications"),
    ),
    (
        "GET",
        "/coordinator-applications/{application_id}",
        VETTERS,
        _on_unknown("GET", "/coordinator-applications/{id}"),
    ),
    (
        "POST",
        "/coordinator-applications/{application_id}/approval",
        VETTERS,
        _on_unknown(
            "POST",
            "/coordinator-applications/{id}/approval",
            {"vetting_reference": "MATRIX-1", "vetting_expires_on": VETTED_UNTIL},
        ),
    ),
    (
        "POST",
        "/coordinator-applications/{application_id}/refusal",
        VETTERS,
        _on_unknown("POST", "/coordinator-applications/{id}/refusal", {"reason": "matrix"}),
    ),
    ("POST", "/identity-reveals", OFFICERS, _new_reveal()),
    ("GET", "/identity-reveals", REVEAL_APPROVERS, _call("GET", "/identity-reveals")),
    (
        "POST",
        "/identity-reveals/{reveal_id}/approval",
        REVEAL_APPROVERS,
        _on_unknown("POST", "/identity-reveals/{id}/approval"),
    ),
    (
        "POST",
        "/identity-reveals/{reveal_id}/disclosure",
        OFFICERS,
        _on_unknown("POST", "/identity-reveals/{id}/disclosure"),
    ),
]

CALLERS = sorted(EVERYONE)


@pytest.fixture(scope="module")
async def context(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: IdentitySettings,
) -> Context:
    return Context(client, sessions, settings, await create_organisation(sessions))


@pytest.fixture(scope="module")
async def headers_by_caller(context: Context) -> dict[str, dict[str, str]]:
    headers: dict[str, dict[str, str]] = {ANONYMOUS: {}}
    for role in Role:
        organisation = context.organisation_id if role.value in STAFF else None
        _, email = await create_member(
            context.sessions, context.settings, role.value, organisation_id=organisation
        )
        headers[role.value] = bearer((await sign_in_body(context.client, email))["access_token"])
    return headers


class TestAuthorisationMatrix:
    def test_every_route_is_in_the_matrix(self, app: FastAPI) -> None:
        operational = {"/healthz", "/readyz", "/metrics"}
        routes = {
            (method.upper(), path)
            for path, operations in app.openapi()["paths"].items()
            if path not in operational
            for method in operations
        }
        assert routes == {(method, path) for method, path, _, _ in MATRIX}

    @pytest.mark.parametrize(
        ("method", "path", "allowed", "call"),
        MATRIX,
        ids=[f"{method} {path}" for method, path, _, _ in MATRIX],
    )
    async def test_each_caller_is_let_in_or_refused(
        self,
        context: Context,
        headers_by_caller: dict[str, dict[str, str]],
        method: str,
        path: str,
        allowed: frozenset[str],
        call: Call,
    ) -> None:
        outcomes: dict[str, tuple[int, str]] = {}
        for caller in CALLERS:
            response = await call(context, headers_by_caller[caller])
            problem = response.json() if response.status_code >= 400 else {}
            outcomes[caller] = (response.status_code, problem.get("type", ""))
        for caller, (status, problem_type) in outcomes.items():
            if caller in allowed:
                # Let in: it may still fail on its own terms (a wrong password, a bad code),
                # but never for lack of a token or a role.
                assert not problem_type.endswith(("/unauthorized", "/forbidden")), (
                    caller,
                    status,
                    problem_type,
                )
            elif caller == ANONYMOUS:
                assert (status, problem_type.rsplit("/", 1)[-1]) == (401, "unauthorized")
            else:
                assert (status, problem_type.rsplit("/", 1)[-1]) == (403, "forbidden"), caller
