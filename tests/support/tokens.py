"""Access tokens for tests of services other than identity: a test signing key whose JWKS is
served to the service's verifier through ``httpx.MockTransport``, so real signature checks run."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import JWKSVerifier

ISSUER = "https://tawny.london/identity"
AUDIENCE = "tawny"
TEST_KID = "test-key-1"

_private_key = Ed25519PrivateKey.generate()


def jwks() -> dict[str, object]:
    public = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(_private_key.public_key()))
    public.update({"kid": TEST_KID, "use": "sig", "alg": "EdDSA"})
    return {"keys": [public]}


def make_token(
    *,
    roles: Iterable[str] = ("resident",),
    member_id: uuid.UUID | None = None,
    pseudonym: str = "Neighbour 1234",
    area: Iterable[str] = (),
    area_boroughs: Iterable[str] = (),
    scope: str | None = None,
    vl: str = "email",
    org: uuid.UUID | None = None,
    expires_in: int = 600,
    private_key: Ed25519PrivateKey | None = None,
    kid: str = TEST_KID,
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(member_id or uuid.uuid4()),
        "pseudonym": pseudonym,
        "roles": sorted(roles),
        "vl": vl,
        "area": list(area),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + expires_in,
        "jti": uuid.uuid4().hex,
    }
    if area_boroughs:
        claims["area_boroughs"] = list(area_boroughs)
    if scope is not None:
        claims["scope"] = scope
    if org is not None:
        claims["org"] = str(org)
    return sign_claims(claims, private_key=private_key, kid=kid)


def sign_claims(
    claims: dict[str, object],
    *,
    private_key: Ed25519PrivateKey | None = None,
    kid: str = TEST_KID,
) -> str:
    """Any claims, signed with the test key: for tokens identity would never issue."""
    return jwt.encode(claims, private_key or _private_key, algorithm="EdDSA", headers={"kid": kid})


def auth_header(**kwargs: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(**kwargs)}"}  # type: ignore[arg-type]


def test_verifier() -> JWKSVerifier:
    def serve_jwks(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=jwks())

    return JWKSVerifier(
        "http://identity.test/.well-known/jwks.json",
        issuer=ISSUER,
        audience=AUDIENCE,
        http=httpx.AsyncClient(transport=httpx.MockTransport(serve_jwks)),
    )
