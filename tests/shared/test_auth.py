"""JWT verification against a JWKS, as every service but identity does it."""

from __future__ import annotations

import uuid

import httpx
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
