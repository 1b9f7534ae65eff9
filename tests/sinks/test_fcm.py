"""The FCM sink over real HTTP: the JWT bearer grant checked against the service account's
public key, the bearer on messages:send, what it keeps, and its faults."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest

from deploy.sinks.fcm import FCM_SCOPE, JWT_BEARER_GRANT, FcmSink, new_service_account

PROJECT = "tawny-sink-test"


@pytest.fixture
def key(tmp_path: Path) -> dict[str, str]:
    return new_service_account(tmp_path / "key.json", project_id=PROJECT)


@pytest.fixture
async def sink(key: dict[str, str]) -> AsyncIterator[FcmSink]:
    async with FcmSink(service_account=key, project_id=PROJECT) as sink:
        yield sink


@pytest.fixture
async def api(sink: FcmSink) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sink.url) as client:
        yield client


def assertion(key: dict[str, str], audience: str, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": key["client_email"],
        "scope": FCM_SCOPE,
        "aud": audience,
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return jwt.encode(claims, key["private_key"], algorithm="RS256")


async def access_token(api: httpx.AsyncClient, sink: FcmSink, key: dict[str, str]) -> str:
    response = await api.post(
        "/token",
        data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion(key, sink.token_url)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return str(body["access_token"])


def message(token: str) -> dict[str, object]:
    return {"message": {"token": token, "notification": {"title": "t", "body": "b"}}}


class TestTokenEndpoint:
    async def test_issues_a_token_for_a_grant_signed_by_the_service_account(
        self, api: httpx.AsyncClient, sink: FcmSink, key: dict[str, str]
    ) -> None:
        await access_token(api, sink, key)
        assert sink.tokens_issued == 1

    @pytest.mark.parametrize(
        "overrides",
        [
            {"aud": "https://elsewhere.example/token"},
            {"iss": "someone@else.iam.gserviceaccount.com"},
            {"scope": "https://www.googleapis.com/auth/cloud-platform"},
            {"exp": int(time.time()) - 10},
        ],
    )
    async def test_refuses_a_grant_with_wrong_claims(
        self,
        api: httpx.AsyncClient,
        sink: FcmSink,
        key: dict[str, str],
        overrides: dict[str, object],
    ) -> None:
        response = await api.post(
            "/token",
            data={
                "grant_type": JWT_BEARER_GRANT,
                "assertion": assertion(key, sink.token_url, **overrides),
            },
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"

    async def test_refuses_a_grant_signed_by_another_key(
        self, api: httpx.AsyncClient, sink: FcmSink, key: dict[str, str], tmp_path: Path
    ) -> None:
        other = new_service_account(tmp_path / "other.json")
        forged = {**other, "client_email": key["client_email"]}
        response = await api.post(
            "/token",
            data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion(forged, sink.token_url)},
        )
        assert response.status_code == 400
        assert sink.tokens_issued == 0


class TestMessagesSend:
    async def test_keeps_a_message_sent_with_a_valid_token(
        self, api: httpx.AsyncClient, sink: FcmSink, key: dict[str, str]
    ) -> None:
        bearer = await access_token(api, sink, key)
        device = f"device-{uuid.uuid4().hex}"
        response = await api.post(
            f"/v1/projects/{PROJECT}/messages:send",
            json=message(device),
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert response.status_code == 200
        name = response.json()["name"]
        assert name.startswith(f"projects/{PROJECT}/messages/")

        listed = (await api.get("/messages", params={"token": device})).json()
        assert [m["name"] for m in listed] == [name]
        assert listed[0]["message"]["notification"] == {"title": "t", "body": "b"}

    async def test_wants_the_bearer_and_the_project(
        self, api: httpx.AsyncClient, sink: FcmSink, key: dict[str, str]
    ) -> None:
        unauthenticated = await api.post(
            f"/v1/projects/{PROJECT}/messages:send",
            json=message("d"),
            headers={"Authorization": "Bearer made-up"},
        )
        bearer = await access_token(api, sink, key)
        other_project = await api.post(
            "/v1/projects/someone-else/messages:send",
            json=message("d"),
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert unauthenticated.status_code == 401
        assert unauthenticated.json()["error"]["status"] == "UNAUTHENTICATED"
        assert other_project.status_code == 403

    async def test_refuses_an_oversized_payload_and_an_unregistered_token(
        self, api: httpx.AsyncClient, sink: FcmSink, key: dict[str, str]
    ) -> None:
        headers = {"Authorization": f"Bearer {await access_token(api, sink, key)}"}
        big = {"message": {"token": "d", "data": {"blob": "x" * 5000}}}
        too_big = await api.post(f"/v1/projects/{PROJECT}/messages:send", json=big, headers=headers)
        sink.unregister("gone")
        gone = await api.post(
            f"/v1/projects/{PROJECT}/messages:send", json=message("gone"), headers=headers
        )
        assert too_big.status_code == 400
        assert gone.status_code == 404
        assert gone.json()["error"]["details"][0]["errorCode"] == "UNREGISTERED"

    async def test_faults_over_http_apply_to_their_token_then_expire(
        self, api: httpx.AsyncClient, sink: FcmSink, key: dict[str, str]
    ) -> None:
        headers = {"Authorization": f"Bearer {await access_token(api, sink, key)}"}
        fault = {"target": "busy", "status": 429, "retry_after_s": 5, "times": 1}
        assert (await api.post("/faults", json=fault)).status_code == 201
        url = f"/v1/projects/{PROJECT}/messages:send"

        throttled = await api.post(url, json=message("busy"), headers=headers)
        other = await api.post(url, json=message("idle"), headers=headers)
        again = await api.post(url, json=message("busy"), headers=headers)

        assert throttled.status_code == 429
        assert throttled.headers["retry-after"] == "5"
        assert other.status_code == 200
        assert again.status_code == 200
        assert (await api.get("/faults")).json() == []

    async def test_a_drop_fault_closes_the_connection_without_an_answer(
        self, api: httpx.AsyncClient, sink: FcmSink, key: dict[str, str]
    ) -> None:
        headers = {"Authorization": f"Bearer {await access_token(api, sink, key)}"}
        await api.post("/faults", json={"drop_connection": True, "times": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            await api.post(
                f"/v1/projects/{PROJECT}/messages:send", json=message("x"), headers=headers
            )
        assert sink.messages_to("x") == []
