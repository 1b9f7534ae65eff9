"""Sign-in throttling: slows guessing per account and IP without locking anyone out."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.errors import TooManyAttemptsError
from services.identity.tokens.throttle import (
    ACCOUNT_POLICY,
    PAIR_POLICY,
    SignInThrottle,
    ThrottlePolicy,
)
from tests.identity.factories import PASSWORD, create_member, unique_email


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


def random_ip() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


async def attempt(client: httpx.AsyncClient, email: str, password: str, ip: str) -> httpx.Response:
    return await client.post(
        "/tokens", json={"email": email, "password": password}, headers=from_ip(ip)
    )


class TestPolicy:
    def test_delay_doubles_after_the_free_failures_up_to_a_cap(self) -> None:
        policy = ThrottlePolicy(free_failures=3, max_delay_s=60)
        assert [policy.delay_s(n) for n in range(3)] == [0, 0, 0]
        assert [policy.delay_s(n) for n in (3, 4, 5, 6)] == [1, 2, 4, 8]
        assert policy.delay_s(10_000) == 60

    def test_failures_from_anywhere_never_keep_a_member_out_long(self) -> None:
        # Whoever knows a member's address can delay them by a minute at most.
        assert ACCOUNT_POLICY.delay_s(1_000_000) <= 60
        assert PAIR_POLICY.max_delay_s > ACCOUNT_POLICY.max_delay_s


class TestSignInThrottle:
    async def test_guessing_from_one_ip_is_slowed_with_a_429_problem(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "resident")
        attacker = random_ip()
        for _ in range(PAIR_POLICY.free_failures):
            assert (await attempt(client, email, "wrong password!", attacker)).status_code == 401
        # Five more failures make the pair wait 2^5 = 32 s: long enough that a slow machine
        # cannot let the delay pass before the next request (the first delay is only 1 s).
        throttle = SignInThrottle(
            sessions,
            email=email,
            client_ip=attacker,
            ip_free_failures=settings.sign_in_free_failures_per_ip,
        )
        for _ in range(5):
            await throttle.failed()

        response = await attempt(client, email, PASSWORD, attacker)

        assert response.status_code == 429
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"].endswith("/too-many-attempts")
        assert 1 <= problem["retry_after_s"] <= 33
        assert response.headers["retry-after"] == str(problem["retry_after_s"])

    async def test_the_member_still_signs_in_from_their_own_ip(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "resident")
        attacker = random_ip()
        for _ in range(PAIR_POLICY.free_failures + 1):
            await attempt(client, email, "wrong password!", attacker)

        response = await attempt(client, email, PASSWORD, random_ip())

        assert response.status_code == 200

    async def test_an_ip_guessing_many_accounts_is_slowed(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        ip = random_ip()

        def throttle(email: str) -> SignInThrottle:
            return SignInThrottle(sessions, email=email, client_ip=ip, ip_free_failures=2)

        # Six failures against the IP's two free ones: a 16 s wait, which no slow machine
        # outlasts before the check below.
        for label in ("a", "b", "c", "d", "e", "f"):
            await throttle(unique_email(label)).failed()

        with pytest.raises(TooManyAttemptsError):
            await throttle(unique_email("g")).check()
        # Another address is not affected.
        await SignInThrottle(
            sessions, email=unique_email("g"), client_ip=random_ip(), ip_free_failures=2
        ).check()

    @pytest.mark.parametrize("forwarded", [None, "not-an-ip", "1.2.3.4, <script>"])
    async def test_without_a_client_ip_from_the_proxy_only_the_account_counts(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
        forwarded: str | None,
    ) -> None:
        # Requests through the proxy that names no client share its address: counting that
        # address (or the pair) would let one guesser slow everyone, or lock a member out.
        _, email = await create_member(sessions, settings, "resident")
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        for _ in range(PAIR_POLICY.free_failures + 2):
            response = await client.post(
                "/tokens", json={"email": email, "password": "wrong password!"}, headers=headers
            )
            assert response.status_code == 401

        response = await client.post(
            "/tokens", json={"email": email, "password": PASSWORD}, headers=headers
        )
        assert response.status_code == 200
