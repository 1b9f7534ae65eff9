"""Steps the browser tests share: signing in through the page, finding a ward on the map,
reading the SMTP and Notify sinks, and setting a resident up through the API when the browser
part is not what a test is about."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from playwright.async_api import Page

from deploy.devstack import DEMO_ADMIN, DEMO_OFFICER, DevStack
from services.alerts.cap.document import cap_datetime
from tests.support.infrastructure import PLATFORM_CLIENT_TIMEOUT_S
from tests.support.waiting import eventually as eventually

T = TypeVar("T")

VERIFY_LINK = re.compile(r"https?://\S+/api/identity/email-verifications/[A-Za-z0-9_\-]+")
PASSWORD = "a long browser password"


def unique_email() -> str:
    return f"web-{uuid.uuid4().hex[:10]}@example.org"


async def mail_to(platform: DevStack, address: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(
        base_url=platform.smtp_sink_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as sink:
        response = await sink.get("/messages", params={"to": address})
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        return messages


async def notifications(platform: DevStack, **query: str) -> list[dict[str, Any]]:
    """What the Notify sink was asked to send (SMS and letters), oldest first."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{platform.ports.notify}", timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as sink:
        response = await sink.get("/notifications", params=query)
        response.raise_for_status()
        sent: list[dict[str, Any]] = response.json()
        return sent


async def letter_code(platform: DevStack, recipient_name: str) -> str:
    """The one-time code printed in the address letter posted to ``recipient_name``."""

    async def code() -> str | None:
        for sent in await notifications(platform):
            if sent["type"] == "letter" and sent["personalisation"].get("name") == recipient_name:
                return str(sent["personalisation"]["code"])
        return None

    return await eventually(code)


async def bearer(platform: DevStack, email: str, password: str) -> dict[str, str]:
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as gateway:
        answer = await gateway.post(
            "/api/identity/tokens", json={"email": email, "password": password}
        )
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def verification_link(platform: DevStack, address: str) -> str:
    async def link() -> str | None:
        for message in await mail_to(platform, address):
            found = VERIFY_LINK.search(message["text"])
            if found:
                return found.group(0)
        return None

    return await eventually(link)


async def a_ward(platform: DevStack, index: int) -> dict[str, str]:
    """A ward of the imported set, other than the demo resident's (the first)."""
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as gateway:
        wards: list[dict[str, str]] = (
            (await gateway.get("/api/geo/wards", params={"limit": 100})).raise_for_status().json()
        )
    # Modulo: the built-in demo geography (without ../shared) has only a few wards.
    return wards[index % len(wards)]


async def sign_in(
    page: Page, platform: DevStack, email: str, password: str, *, then: str = ""
) -> None:
    """Sign in through the page; ``then`` is the view to go to instead of the start one."""
    await page.goto(f"{platform.gateway_url}/app#/sign-in" + (f"?next={then}" if then else ""))
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Sign out").wait_for()


async def click_ward(page: Page, ward_code: str) -> None:
    """Click the ward on the map as a person would: at a point where its shape is on top."""
    shape = page.locator(f"path.ward-{ward_code}")
    await shape.wait_for()
    await shape.scroll_into_view_if_needed()
    point = await shape.evaluate(
        """(path) => {
            const box = path.getBoundingClientRect();
            for (let fy = 0.5; fy < 1; fy += 0.05) {
                for (const sy of [fy, 1 - fy]) {
                    for (let fx = 0.05; fx < 1; fx += 0.05) {
                        const x = box.left + box.width * fx, y = box.top + box.height * sy;
                        if (document.elementFromPoint(x, y) === path) return [x, y];
                    }
                }
            }
            return null;
        }"""
    )
    assert point is not None, f"ward {ward_code} is nowhere clickable on the map"
    await page.mouse.click(point[0], point[1])


async def resident_watching(platform: DevStack, ward_code: str) -> str:
    """A verified resident watching ``ward_code``, set up through the API; their email."""
    email = unique_email()
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as gateway:
        registered = await gateway.post(
            "/api/identity/members", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 202, registered.text
        link = await verification_link(platform, email)
        verified = await gateway.get("/api/" + link.split("/api/", 1)[1])
        assert verified.status_code == 200, verified.text
        tokens = await gateway.post(
            "/api/identity/tokens", json={"email": email, "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        watched = await gateway.post(
            "/api/geo/subscriptions", json={"ward_code": ward_code}, headers=headers
        )
        assert watched.status_code == 201, watched.text

        async def dispatch_knows_the_address() -> bool:
            response = await gateway.get("/api/dispatch/endpoints/me", headers=headers)
            return bool(response.status_code == 200 and response.json())

        await eventually(dispatch_knows_the_address)
    return email


async def grant_verifier_role(platform: DevStack, email: str, password: str) -> None:
    """What a platform admin does for a member who will check proofs (through the API); here
    the demo admin grants it to a seeded member, who needs no two-step sign-in."""
    admin = await bearer(platform, *DEMO_ADMIN)
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as gateway:
        me = (
            await gateway.get(
                "/api/identity/members/me", headers=await bearer(platform, email, password)
            )
        ).json()
        roles = sorted({*me["roles"], "verifier"})
        granted = await gateway.put(
            f"/api/identity/members/{me['member_id']}/roles", headers=admin, json={"roles": roles}
        )
        assert granted.status_code == 200, granted.text


async def publish_through_the_api(platform: DevStack, ward_code: str, headline: str) -> str:
    """The demo officer publishes an alert for the ward (the console has its own tests); its id."""
    officer = await bearer(platform, *DEMO_OFFICER)
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as gateway:
        created = await gateway.post(
            "/api/alerts/alerts",
            headers=officer,
            json={
                "headline": headline,
                "body": "Residents have had calls asking them to move money to a 'safe account'.",
                "instruction": "Hang up and call your bank on the number on your card.",
                "crime_type": "fraud_or_scam",
                "target_ward_codes": [ward_code],
                "no_victim_details_confirmed": True,
            },
        )
        assert created.status_code == 201, created.text
        alert_id: str = created.json()["id"]
        published = await gateway.post(f"/api/alerts/alerts/{alert_id}/publish", headers=officer)
        assert published.status_code == 200, published.text
    return alert_id


async def in_the_inbox(platform: DevStack, email: str, alert_id: str) -> None:
    headers = await bearer(platform, email, PASSWORD)
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as gateway:

        async def arrived() -> bool:
            answer = await gateway.get(f"/api/dispatch/inbox/{alert_id}", headers=headers)
            return answer.status_code == 200

        await eventually(arrived)


async def verify_address_through_the_api(platform: DevStack, email: str) -> None:
    """The letter's code entered for the resident (the address page has its own tests): the
    level becomes ``address``, which replies need."""
    headers = await bearer(platform, email, PASSWORD)
    name = f"Resident {uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as gateway:
        requested = await gateway.post(
            "/api/identity/members/me/address/letter",
            headers=headers,
            json={"name": name, "address_lines": ["1 Test Street"], "postcode": "SW1A 1AA"},
        )
        assert requested.status_code == 202, requested.text
        confirmed = await gateway.post(
            "/api/identity/members/me/address/confirmation",
            headers=headers,
            json={"code": await letter_code(platform, name)},
        )
        assert confirmed.status_code == 200, confirmed.text


async def cap_received_without_a_crime_type(platform: DevStack, headline: str) -> str:
    """A partner agency's system posts CAP with no tawny:crimeType (so the alert's crime type is
    derived), through an API client the admin registers for an agency of one ward; its id."""
    ward = (await a_ward(platform, 19))["code"]
    admin = await bearer(platform, *DEMO_ADMIN)
    now = datetime.now(UTC)
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>CAD-{uuid.uuid4().hex[:12]}</identifier><sender>cad@partner.example</sender>
<sent>{cap_datetime(now)}</sent><status>Actual</status><msgType>Alert</msgType>
<scope>Public</scope>
<info><language>en-GB</language><category>Safety</category><event>Unattended bag</event>
<urgency>Expected</urgency><severity>Moderate</severity><certainty>Likely</certainty>
<expires>{cap_datetime(now + timedelta(days=1))}</expires>
<headline>{headline}</headline><description>An unattended bag was reported.</description>
<area><areaDesc>Near the station</areaDesc>
<geocode><valueName>ONS_WARD</valueName><value>{ward}</value></geocode>
</area></info></alert>"""
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as gateway:
        agency = await gateway.post(
            "/api/identity/organisations",
            headers=admin,
            json={
                "kind": "partner_agency",
                "code": f"agency-{uuid.uuid4().hex[:10]}",
                "name": "Station Partnership",
                "ward_codes": [ward],
            },
        )
        assert agency.status_code == 201, agency.text
        registered = await gateway.post(
            "/api/identity/api-clients",
            headers=admin,
            json={
                "name": "Partner CAD",
                "organisation_id": agency.json()["id"],
                "scopes": ["cap:write"],
            },
        )
        assert registered.status_code == 201, registered.text
        token = await gateway.post(
            "/api/identity/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": registered.json()["id"],
                "client_secret": registered.json()["client_secret"],
            },
        )
        assert token.status_code == 200, token.text
        received = await gateway.post(
            "/api/alerts/alerts/cap",
            content=document.encode(),
            headers={
                "Authorization": f"Bearer {token.json()['access_token']}",
                "Content-Type": "application/cap+xml",
            },
        )
        assert received.status_code == 201, received.text
        assert received.json()["crime_type_derived"] is True
        alert_id: str = received.json()["id"]
    return alert_id
