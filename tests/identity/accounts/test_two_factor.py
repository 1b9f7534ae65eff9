"""TOTP for staff: enrolment, recovery codes, and sign-in with a code."""

from __future__ import annotations

import base64

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity import totp
from services.identity.config import IdentitySettings
from services.identity.models import Member
from services.identity.tokens.service import TokenService
from tests.identity.factories import (
    PASSWORD,
    audit_actions,
    bearer,
    claims_of,
    create_member,
    sign_in_body,
    signed_in_member,
)


def secret_of(enrolment: dict[str, str]) -> bytes:
    encoded = enrolment["secret"]
    return base64.b32decode(encoded + "=" * (-len(encoded) % 8))


async def enrol(client: httpx.AsyncClient, access_token: str) -> tuple[bytes, list[str]]:
    response = await client.post("/members/me/totp", headers=bearer(access_token))
    assert response.status_code == 201, response.text
    secret = secret_of(response.json())
    confirmed = await client.post(
        "/members/me/totp/confirmation",
        json={"code": totp.totp(secret)},
        headers=bearer(access_token),
    )
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    return secret, codes


class TestStaffTwoFactor:
    async def test_staff_without_totp_get_no_staff_roles_until_they_enrol(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "officer", totp_exempt=False)

        body = await sign_in_body(client, email)

        assert body["two_factor_enrolment_required"] is True
        assert body["roles"] == ["resident"]
        assert claims_of(body["access_token"])["roles"] == ["resident"]

    async def test_after_enrolment_sign_in_needs_a_code_and_grants_the_roles(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "officer", totp_exempt=False)
        first = await sign_in_body(client, email)
        secret, codes = await enrol(client, first["access_token"])
        assert len(codes) == 10 and len(set(codes)) == 10

        without_code = await client.post("/tokens", json={"email": email, "password": PASSWORD})
        assert without_code.status_code == 401
        assert without_code.json()["type"].endswith("/two-factor-required")

        # The confirmation used the current step; the next step's code is the next one valid.
        next_code = totp.hotp(secret, totp.current_step() + 1)
        body = await sign_in_body(client, email, totp_code=next_code)
        assert body["two_factor_enrolment_required"] is False
        assert claims_of(body["access_token"])["roles"] == ["officer"]

        replay = await client.post(
            "/tokens", json={"email": email, "password": PASSWORD, "totp_code": next_code}
        )
        assert replay.status_code == 401

    async def test_a_recovery_code_works_once(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "verifier", totp_exempt=False)
        _, codes = await enrol(client, (await sign_in_body(client, email))["access_token"])

        body = await sign_in_body(client, email, recovery_code=codes[0])
        assert claims_of(body["access_token"])["roles"] == ["verifier"]

        again = await client.post(
            "/tokens", json={"email": email, "password": PASSWORD, "recovery_code": codes[0]}
        )
        assert again.status_code == 401

    async def test_a_wrong_confirmation_code_is_refused(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "officer", totp_exempt=False)
        token = (await sign_in_body(client, email))["access_token"]
        secret = secret_of((await client.post("/members/me/totp", headers=bearer(token))).json())
        wrong = str((int(totp.totp(secret)) + 1) % 1_000_000).zfill(6)

        response = await client.post(
            "/members/me/totp/confirmation", json={"code": wrong}, headers=bearer(token)
        )

        assert response.status_code == 400
        assert response.json()["type"].endswith("/invalid-code")

    async def test_enrolling_twice_is_a_conflict(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "officer", totp_exempt=False)
        token = (await sign_in_body(client, email))["access_token"]
        await enrol(client, token)

        response = await client.post("/members/me/totp", headers=bearer(token))

        assert response.status_code == 409

    async def test_residents_never_need_a_code(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, email = await create_member(sessions, settings, "resident", totp_exempt=False)
        body = await sign_in_body(client, email)
        assert body["two_factor_enrolment_required"] is False

    async def test_the_seeded_exemption_never_applies_in_production(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        member = Member(roles=["officer"], totp_exempt=True)
        production = IdentitySettings(
            environment="production",
            public_base_url="https://tawny.london",
            data_keys="k1:" + base64.urlsafe_b64encode(bytes(32)).decode(),
            blind_index_key=base64.urlsafe_b64encode(bytes(32)).decode(),
        )

        assert TokenService(session, settings).totp_exempt(member) is True
        assert TokenService(session, production).totp_exempt(member) is False


class TestRecoveryAndReset:
    async def test_new_recovery_codes_need_a_current_code_and_replace_the_old(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, email = await create_member(sessions, settings, "officer", totp_exempt=False)
        token = (await sign_in_body(client, email))["access_token"]
        secret, old_codes = await enrol(client, token)
        next_code = totp.hotp(secret, totp.current_step() + 1)

        wrong = await client.post(
            "/members/me/totp/recovery-codes", json={"code": "000000"}, headers=bearer(token)
        )
        response = await client.post(
            "/members/me/totp/recovery-codes", json={"code": next_code}, headers=bearer(token)
        )

        assert wrong.status_code == 400
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        new_codes = response.json()["recovery_codes"]
        assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
        old = await client.post(
            "/tokens", json={"email": email, "password": PASSWORD, "recovery_code": old_codes[0]}
        )
        assert old.status_code == 401
        await sign_in_body(client, email, recovery_code=new_codes[0])
        assert "two_factor.recovery_codes_regenerated" in await audit_actions(sessions, member_id)

    async def test_a_platform_admin_resets_totp_and_the_member_enrols_again(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, email = await create_member(sessions, settings, "officer", totp_exempt=False)
        await enrol(client, (await sign_in_body(client, email))["access_token"])
        _, admin = await signed_in_member(client, sessions, settings, "platform_admin")

        response = await client.post(
            f"/members/{member_id}/totp-reset", json={"reason": "Phone lost"}, headers=admin
        )

        assert response.status_code == 204
        body = await sign_in_body(client, email)
        assert body["two_factor_enrolment_required"] is True
        assert claims_of(body["access_token"])["roles"] == ["resident"]
        await enrol(client, body["access_token"])
        actions = await audit_actions(sessions, member_id)
        assert actions.count("two_factor.reset") == 1
        assert actions.count("two_factor.enabled") == 2
