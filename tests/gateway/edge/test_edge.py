"""The gateway's edge: tokens checked before forwarding, rate limits, CORS, security headers."""

from __future__ import annotations

import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.gateway.edge.caller import VerifiedTokens
from services.gateway.edge.ratelimit import TokenBucketLimiter
from tests.gateway.fakes import (
    HostRouter,
    gateway_settings,
    header_values,
    network,
    running_gateway,
    seen_by_upstream,
)
from tests.support import tokens


def forwarded_to(router: HostRouter, service: str) -> int:
    return len([r for r in router.requests if r.url.host == f"{service}.internal"])


class TestTokensAtTheEdge:
    async def test_a_forged_token_is_refused_without_reaching_the_service(self) -> None:
        router = network()
        forged = tokens.make_token(private_key=Ed25519PrivateKey.generate())
        async with running_gateway(router) as client:
            response = await client.get(
                "/api/alerts/alerts", headers={"Authorization": f"Bearer {forged}"}
            )
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert forwarded_to(router, "alerts") == 0

    async def test_an_expired_token_is_refused(self) -> None:
        expired = tokens.make_token(expires_in=-300)
        async with running_gateway(network()) as client:
            response = await client.get(
                "/api/geo/subscriptions", headers={"Authorization": f"Bearer {expired}"}
            )
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]

    async def test_a_token_living_longer_than_jwt_max_lifetime_s_is_refused(self) -> None:
        an_hour = tokens.make_token(expires_in=3600)
        headers = {"Authorization": f"Bearer {an_hour}"}
        async with running_gateway(network()) as client:
            by_default = await client.get("/api/geo/subscriptions", headers=headers)
        settings = gateway_settings(jwt_max_lifetime_s=7200)
        async with running_gateway(network(), settings) as client:
            allowed = await client.get("/api/geo/subscriptions", headers=headers)

        # The services' own limit (900 s unless JWT_MAX_LIFETIME_S says otherwise), here too.
        assert by_default.status_code == 401
        assert allowed.status_code == 200

    async def test_anonymous_requests_pass_and_cannot_claim_an_identity(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get(
                "/api/geo/wards", headers={"X-Tawny-Member-Id": str(uuid.uuid4())}
            )
        assert response.status_code == 200
        headers = seen_by_upstream(response)["headers"]
        assert isinstance(headers, list)
        assert not [value for key, value in headers if key == "x-tawny-member-id"]


class TestRateLimits:
    async def test_an_address_over_its_limit_gets_429_with_retry_after(self) -> None:
        settings = gateway_settings(rate_limit_per_ip_per_minute=6, rate_limit_ip_burst=3)
        # The clock stands still: no token comes back however slowly the requests go.
        async with running_gateway(network(), settings, rate_limit_clock=lambda: 0.0) as client:
            statuses = [(await client.get("/api/geo/wards")).status_code for _ in range(4)]
            limited = await client.get("/api/geo/wards")
        assert statuses == [200, 200, 200, 429]
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["limited_by"] == "address"

    async def test_an_account_over_its_limit_gets_429_whatever_its_address(self) -> None:
        settings = gateway_settings(rate_limit_per_account_per_minute=2, rate_limit_account_burst=2)
        token = tokens.make_token(member_id=uuid.uuid4())
        headers = {"Authorization": f"Bearer {token}"}
        async with running_gateway(network(), settings, rate_limit_clock=lambda: 0.0) as client:
            statuses = [
                (await client.get("/api/geo/subscriptions", headers=headers)).status_code
                for _ in range(3)
            ]
            limited = await client.get("/api/geo/subscriptions", headers=headers)
        assert statuses[:2] == [200, 200]
        assert limited.status_code == 429
        assert limited.json()["limited_by"] == "account"

    def test_buckets_refill_at_the_configured_rate(self) -> None:
        now = [0.0]
        limiter = TokenBucketLimiter(60, burst=2, clock=lambda: now[0])
        assert limiter.acquire("a") is None
        assert limiter.acquire("a") is None
        assert limiter.acquire("a") == 1
        assert limiter.acquire("b") is None  # another key has its own bucket
        now[0] = 1.0
        assert limiter.acquire("a") is None

    def test_the_number_of_buckets_is_bounded(self) -> None:
        limiter = TokenBucketLimiter(60, burst=1, max_keys=10)
        for key in range(100):
            limiter.acquire(str(key))
        assert len(limiter._buckets) == 10


class TestHeaders:
    async def test_every_answer_has_the_security_headers(self) -> None:
        async with running_gateway(network()) as client:
            answers = [
                await client.get("/"),
                await client.get("/api/geo/wards"),
                await client.get("/api/nowhere/x"),
            ]
        for answer in answers:
            policy = answer.headers["content-security-policy"]
            assert "default-src 'self'" in policy
            assert "script-src 'self';" in policy
            assert "frame-ancestors 'none'" in policy
            assert answer.headers["strict-transport-security"].startswith("max-age=")
            assert answer.headers["x-content-type-options"] == "nosniff"

    async def test_swagger_pages_get_the_policy_they_need(self) -> None:
        async with running_gateway(network()) as client:
            docs = await client.get("/docs")
        assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]

    async def test_cors_allows_only_listed_origins(self) -> None:
        settings = gateway_settings(cors_origins=["https://police.example"])
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        }
        async with running_gateway(network(), settings) as client:
            allowed = await client.options(
                "/api/alerts/alerts", headers={"Origin": "https://police.example", **preflight}
            )
            refused = await client.options(
                "/api/alerts/alerts", headers={"Origin": "https://evil.example", **preflight}
            )
            listed = await client.get(
                "/api/geo/wards", headers={"Origin": "https://police.example"}
            )
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["access-control-allow-origin"] == "https://police.example"
        # A cross-origin partner app reads the next page's cursor.
        exposed = listed.headers["access-control-expose-headers"].lower()
        assert "link" in exposed and "next-cursor" in exposed
        assert "access-control-allow-origin" not in refused.headers

    async def test_without_cors_origins_no_cross_origin_header_is_sent(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get(
                "/api/geo/wards", headers={"Origin": "https://police.example"}
            )
        assert "access-control-allow-origin" not in response.headers


class TestVerifiedTokens:
    def test_a_token_is_remembered_until_its_own_expiry(self) -> None:
        now = [float(int(time.time()))]
        verified = VerifiedTokens(clock=lambda: now[0])
        member_id = uuid.uuid4()
        token = tokens.make_token(member_id=member_id, expires_in=60)
        verified.remember(token, member_id)

        assert verified.member(token) == member_id
        now[0] += 61
        assert verified.member(token) is None

    def test_only_the_most_recent_tokens_are_kept(self) -> None:
        verified = VerifiedTokens(max_entries=2)
        issued = [(tokens.make_token(), uuid.uuid4()) for _ in range(3)]
        for token, member_id in issued:
            verified.remember(token, member_id)

        assert verified.member(issued[0][0]) is None
        assert [verified.member(token) for token, _ in issued[1:]] == [m for _, m in issued[1:]]

    async def test_a_token_is_checked_once_and_its_member_named_on_each_request(self) -> None:
        member_id = uuid.uuid4()
        token = tokens.make_token(member_id=member_id)
        transport = network()
        async with running_gateway(transport) as client:
            answers = [
                await client.get("/api/geo/x", headers={"Authorization": f"Bearer {token}"})
                for _ in range(3)
            ]

        jwks_fetches = [r for r in transport.requests if r.url.path.endswith("jwks.json")]
        assert len(jwks_fetches) == 1
        for answer in answers:
            assert header_values(seen_by_upstream(answer), "x-tawny-member-id") == [str(member_id)]
