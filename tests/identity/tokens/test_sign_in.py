from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from shared.auth import JWKSVerifier
from tests.identity.factories import (
    PASSWORD,
    register,
    register_and_verify,
    sign_in,
    unique_email,
)


def without_request_id(problem: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in problem.items() if key != "request_id"}


class TestSignIn:
    async def test_returns_a_token_other_services_accept(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
        verifier: JWKSVerifier,
    ) -> None:
        email = unique_email()
        await register_and_verify(client, sessions, settings.public_base_url, email)

        response = await client.post("/tokens", json={"email": email, "password": PASSWORD})

        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == settings.access_token_ttl_s
        token = body["access_token"]
        principal = await verifier.verify(token)
        me = (await client.get("/members/me", headers={"Authorization": f"Bearer {token}"})).json()
        assert str(principal.member_id) == me["member_id"]
        assert principal.pseudonym == me["pseudonym"]
        assert principal.roles == frozenset({"resident"})
        assert principal.verification_level == "email"

    async def test_token_carries_the_expected_header_and_claims(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        await register_and_verify(client, sessions, settings.public_base_url, email)
        before = int(time.time())

        token = await sign_in(client, email)

        header = jwt.get_unverified_header(token)
        assert header["alg"] == "EdDSA"
        jwks = (await client.get("/.well-known/jwks.json")).json()
        assert header["kid"] in {key["kid"] for key in jwks["keys"]}
        claims = jwt.decode(token, options={"verify_signature": False})
        assert set(claims) == {"sub", "pseudonym", "roles", "vl", "iss", "aud", "iat", "exp", "jti"}
        uuid.UUID(claims["sub"])
        assert claims["iss"] == settings.jwt_issuer
        assert claims["aud"] == settings.jwt_audience
        assert claims["vl"] == "email"
        assert claims["roles"] == ["resident"]
        assert before <= claims["iat"] <= int(time.time())
        assert 0 < claims["exp"] - claims["iat"] <= 900
        assert email not in token

    async def test_every_token_has_its_own_id(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        await register_and_verify(client, sessions, settings.public_base_url, email)

        tokens = [await sign_in(client, email) for _ in range(2)]

        ids = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}
        assert len(ids) == 2

    async def test_wrong_password_and_unknown_email_look_the_same(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        email = unique_email()
        await register_and_verify(client, sessions, settings.public_base_url, email)

        wrong_password = await client.post(
            "/tokens", json={"email": email, "password": "not the passphrase"}
        )
        unknown_email = await client.post(
            "/tokens", json={"email": unique_email(), "password": "not the passphrase"}
        )

        for response in (wrong_password, unknown_email):
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"] == "Bearer"
        assert without_request_id(wrong_password.json()) == without_request_id(unknown_email.json())
        assert wrong_password.json()["type"].endswith("/invalid-credentials")

    async def test_unknown_email_does_the_work_of_a_wrong_password(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Timing must reveal nothing: an unknown address verifies a dummy hash as costly as a
        member's. The work is counted rather than timed, which depends on the machine."""
        email = unique_email()
        await register_and_verify(client, sessions, settings.public_base_url, email)
        verified: list[str] = []
        real_verify = PasswordHasher.verify

        def counted_verify(
            hasher: PasswordHasher, password_hash: str | bytes, password: str
        ) -> Any:
            verified.append(
                password_hash if isinstance(password_hash, str) else password_hash.decode()
            )
            return real_verify(hasher, password_hash, password)

        monkeypatch.setattr(PasswordHasher, "verify", counted_verify)

        wrong = await client.post("/tokens", json={"email": email, "password": "nope nope nope"})
        [member_hash] = verified
        verified.clear()
        unknown = await client.post(
            "/tokens", json={"email": unique_email(), "password": "nope nope nope"}
        )

        assert (wrong.status_code, unknown.status_code) == (401, 401)
        [dummy_hash] = verified
        assert extract_parameters(dummy_hash) == extract_parameters(member_hash)

    async def test_unverified_member_with_the_right_password_is_403(
        self, client: httpx.AsyncClient
    ) -> None:
        email = unique_email()
        await register(client, email)

        right = await client.post("/tokens", json={"email": email, "password": PASSWORD})
        wrong = await client.post("/tokens", json={"email": email, "password": "wrong password"})

        assert right.status_code == 403
        assert right.headers["content-type"] == "application/problem+json"
        assert right.json()["type"].endswith("/email-not-verified")
        assert wrong.status_code == 401

    @pytest.mark.parametrize(
        "body",
        [
            {"email": "sam@example.com", "password": ""},
            {"email": "sam@example.com", "password": "x" * 129},
            {"email": "a" * 250 + "@example.com", "password": PASSWORD},
            {"email": "sam", "password": PASSWORD},
            {"email": "sam@example.com"},
        ],
    )
    async def test_bad_input_is_a_422_problem(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        response = await client.post("/tokens", json=body)

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
