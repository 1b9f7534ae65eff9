"""JWT verification against a JWKS, as every service but identity does it."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import JWKSVerifier
from shared.errors import UnauthorizedError
from tests.support import tokens


class TestJWKSVerifier:
    async def test_accepts_a_valid_token_and_reads_its_claims(self) -> None:
        member_id = uuid.uuid4()
        token = tokens.make_token(roles=["officer"], member_id=member_id, area=["E05000001"])
        principal = await tokens.test_verifier().verify(token)
        assert principal.member_id == member_id
        assert principal.roles == frozenset({"officer"})
        assert principal.area_ward_codes == ("E05000001",)

    @pytest.mark.parametrize(
        ("token", "reason"),
        [
            (lambda: tokens.make_token(expires_in=-120), "expired"),
            (lambda: tokens.make_token(private_key=Ed25519PrivateKey.generate()), "not valid"),
            (lambda: tokens.make_token(kid="someone-elses-key"), "unknown key"),
            (lambda: "not-a-jwt", "malformed"),
        ],
    )
    async def test_refuses_bad_tokens(self, token: object, reason: str) -> None:
        with pytest.raises(UnauthorizedError, match=reason):
            await tokens.test_verifier().verify(token())  # type: ignore[operator]

    @pytest.mark.parametrize(
        "claims",
        [
            {"area": 42},
            {"area": [1, 2]},
            {"roles": "officer"},
            {"sub": 7},
            {"sub": "not-a-uuid"},
            {"org": ["x"]},
            {"pseudonym": {"a": 1}},
            {"scope": 3},
            {"area_boroughs": {"E09000001": True}},
        ],
    )
    async def test_a_signed_token_with_mistyped_claims_is_refused(
        self, claims: dict[str, object]
    ) -> None:
        token = _signed(**claims)
        with pytest.raises(UnauthorizedError, match="not valid"):
            await tokens.test_verifier().verify(token)

    @pytest.mark.parametrize(
        ("iat_offset", "exp_offset"),
        [(0, 3600), (0, 32_503_680_000 - int(time.time())), (3000, 3900)],
    )
    async def test_a_signed_token_living_longer_than_the_maximum_is_refused(
        self, iat_offset: int, exp_offset: int
    ) -> None:
        token = _signed(iat=int(time.time()) + iat_offset, exp=int(time.time()) + exp_offset)
        with pytest.raises(UnauthorizedError):
            await tokens.test_verifier().verify(token)

    async def test_the_maximum_lifetime_is_a_setting(self) -> None:
        token = tokens.make_token(expires_in=1800)
        with pytest.raises(UnauthorizedError, match="lives longer"):
            await tokens.test_verifier().verify(token)
        verifier = JWKSVerifier(
            "http://identity.test/jwks",
            issuer=tokens.ISSUER,
            audience=tokens.AUDIENCE,
            http=httpx.AsyncClient(
                transport=httpx.MockTransport(lambda _: httpx.Response(200, json=tokens.jwks()))
            ),
            max_lifetime_s=3600,
        )
        assert (await verifier.verify(token)).roles == frozenset({"resident"})

    async def test_unknown_key_ids_do_not_hammer_the_jwks_endpoint(self) -> None:
        fetches = 0

        def serve(request: httpx.Request) -> httpx.Response:
            nonlocal fetches
            fetches += 1
            return httpx.Response(200, json=tokens.jwks())

        verifier = JWKSVerifier(
            "http://identity.test/jwks",
            issuer=tokens.ISSUER,
            audience=tokens.AUDIENCE,
            http=httpx.AsyncClient(transport=httpx.MockTransport(serve)),
        )
        await verifier.verify(tokens.make_token())
        for _ in range(5):
            with pytest.raises(UnauthorizedError):
                await verifier.verify(tokens.make_token(kid=f"forged-{uuid.uuid4()}"))
        assert fetches == 1

    async def test_identity_unreachable_is_a_401_not_a_crash(self) -> None:
        def down(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused")

        verifier = JWKSVerifier(
            "http://identity.test/jwks",
            issuer=tokens.ISSUER,
            audience=tokens.AUDIENCE,
            http=httpx.AsyncClient(transport=httpx.MockTransport(down)),
        )
        with pytest.raises(UnauthorizedError, match="signing keys"):
            await verifier.verify(tokens.make_token())


def _signed(**overrides: object) -> str:
    """A token signed with the test key, with ``overrides`` replacing the usual claims."""
    claims = jwt.decode(tokens.make_token(), options={"verify_signature": False})
    claims.update(overrides)
    return tokens.sign_claims(claims)
