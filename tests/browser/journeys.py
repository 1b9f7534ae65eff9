"""Steps the browser tests share: signing in through the page, finding a ward on the map,
reading the SMTP sink, and setting a resident up through the API when the browser part is
not what a test is about."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from playwright.async_api import Page

from deploy.devstack import DevStack

T = TypeVar("T")

VERIFY_LINK = re.compile(r"https?://\S+/api/identity/email-verifications/[A-Za-z0-9_\-]+")
PASSWORD = "a long browser password"


def unique_email() -> str:
    return f"web-{uuid.uuid4().hex[:10]}@example.org"


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout_s: float = 60) -> T:
    """Poll ``probe`` until it returns something truthy: the platform is asynchronous."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting after {timeout_s}s")
        await asyncio.sleep(0.5)


async def mail_to(platform: DevStack, address: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=platform.smtp_sink_url, timeout=5) as sink:
        response = await sink.get("/messages", params={"to": address})
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        return messages


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
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as gateway:
        wards: list[dict[str, str]] = (
            (await gateway.get("/api/geo/wards", params={"limit": 100})).raise_for_status().json()
        )
    # Modulo: the built-in demo geography (without ../shared) has only a few wards.
    return wards[index % len(wards)]


async def sign_in(page: Page, platform: DevStack, email: str, password: str) -> None:
    await page.goto(f"{platform.gateway_url}/app#/sign-in")
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


async def verify_address_by_letter(
    platform: DevStack, gateway: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """Ask for the address letter, read its code where the letter provider (the dev stack's
    Notify sink) received it, and enter it. Tokens issued afterwards carry ``vl`` address."""
    name = f"Resident {uuid.uuid4().hex[:12]}"
    letter = await gateway.post(
        "/api/identity/members/me/address/letter",
        json={"name": name, "address_lines": ["1 Horse Guards Road"], "postcode": "SW1A 1AA"},
        headers=headers,
    )
    assert letter.status_code == 202, letter.text
    notify_sink = f"http://127.0.0.1:{platform.ports.notify}"

    async def letter_code() -> str | None:
        async with httpx.AsyncClient(timeout=5) as client:
            letters = (await client.get(f"{notify_sink}/notifications")).json()
        for sent in letters:
            if sent["type"] == "letter" and sent["personalisation"].get("name") == name:
                code: str = sent["personalisation"]["code"]
                return code
        return None

    code = await eventually(letter_code)
    confirmed = await gateway.post(
        "/api/identity/members/me/address/confirmation", json={"code": code}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text


async def resident_watching(platform: DevStack, ward_code: str) -> str:
    """A verified resident watching ``ward_code``, set up through the API; their email."""
    email = unique_email()
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=15) as gateway:
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
        # Replying to an alert needs a verified postal address: by letter, as a member would.
        await verify_address_by_letter(platform, gateway, headers)

        async def dispatch_knows_the_address() -> bool:
            response = await gateway.get("/api/dispatch/endpoints/me", headers=headers)
            return bool(response.status_code == 200 and response.json())

        await eventually(dispatch_knows_the_address)
    return email
