"""Every page of the web client (and the gateway's own two), scanned with axe-core (from npm)
in Chromium: no serious or critical violation and no script value printed as text, signed out,
as a resident, as an officer and as a verifier, on a desktop and on a 360 px wide phone."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, Page

from deploy.devstack import DEMO_ADMIN, DEMO_OFFICER, SHARED_LONDON_DATA, DevStack
from tests.browser.conftest import DESKTOP, PHONE, BrowserErrors, new_page
from tests.browser.journeys import (
    PASSWORD,
    a_ward,
    bearer,
    grant_verifier_role,
    in_the_inbox,
    publish_through_the_api,
    resident_watching,
    sign_in,
)
from tests.support.infrastructure import PLATFORM_CLIENT_TIMEOUT_S

pytestmark = pytest.mark.e2e

# A view that printed a missing value instead of leaving it out.
LEAKED_VALUE = re.compile(r"\bnull\b|\bundefined\b|\[object \w+\]|\bNaN\b")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

SIGNED_OUT_PAGES = [
    "/",
    "/api-docs",
    "/app",
    "/app#/sign-in",
    "/app#/sign-up",
    "/app#/verify",
    "/app#/forgot-password",
    "/reset-password#token=from-the-email",
]
RESIDENT_PAGES = [
    "/app#/inbox",
    "/app#/inbox/{alert_id}",
    "/app#/areas",
    "/app#/account",
    "/app#/address",
    "/app#/preferences",
    "/app#/identity",
    "/app#/coordinate",
]
OFFICER_PAGES = [
    "/app#/police",
    "/app#/police/new",
    "/app#/police/alerts/{alert_id}",
    "/app#/police/replies",
    "/app#/police/verification",
]
VERIFIER_PAGES = ["/app#/police/verification", "/app#/police/verification/address/{proof_id}"]


async def serious_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now. axe is
    added through the DevTools protocol, which the page's Content-Security-Policy allows."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_source)
    violations: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const results = await axe.run(document, { resultTypes: ["violations"] });
            return results.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                               nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
        }"""
    )
    return violations


async def settled(page: Page) -> None:
    """The view has rendered: a heading, and the map's wards where there is a map."""
    await page.locator("main h1").first.wait_for()
    if await page.locator(".map").count():
        await page.locator(".map path.ward").first.wait_for(state="attached")
    await page.wait_for_load_state("networkidle")


async def scan(page: Page, gateway_url: str, paths: list[str], axe_source: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path in paths:
        await page.goto(gateway_url + path)
        await settled(page)
        violations = await serious_violations(page, axe_source)
        text = await page.locator("main").inner_text()
        leaked = LEAKED_VALUE.findall(text)
        if leaked:
            violations.append({"id": "leaked-script-value", "text": leaked})
        if violations:
            found[path] = violations
    return found


@pytest.fixture(scope="module")
def axe_source() -> str:
    return AXE.read_text()


@dataclass(frozen=True)
class Seen:
    """What the pages show: a resident's alert and, for a verifier, a proof of address."""

    resident: str
    alert_id: str
    # Identity places an address by its postcode, from the file in ../shared: without it, no
    # proof can be sent, and the proof's page is not scanned.
    proof_id: str | None


async def proof_waiting(platform: DevStack) -> str:
    """A resident's proof of address waiting for a verifier (through the API); its id."""
    resident = await resident_watching(platform, (await a_ward(platform, 27))["code"])
    bill = io.BytesIO()
    Image.new("RGB", (120, 80), "white").save(bill, format="PNG")
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as gateway:
        sent = await gateway.post(
            "/api/identity/members/me/address/proof",
            headers=await bearer(platform, resident, PASSWORD),
            data={"name": "Sam Taylor", "address_lines": ["1 Scan Street"], "postcode": "SW1A 1AA"},
            files={"file": ("bill.png", bill.getvalue(), "image/png")},
        )
        assert sent.status_code == 202, sent.text
        proof_id: str = sent.json()["id"]
    return proof_id


@pytest.fixture(scope="module")
async def published(platform: DevStack) -> Seen:
    """A resident watching a ward, an alert published there that reached their inbox, and a
    proof of address waiting (through the API: the journeys test the pages that do this)."""
    ward = await a_ward(platform, 9)
    resident = await resident_watching(platform, ward["code"])
    alert_id = await publish_through_the_api(
        platform, ward["code"], "Scam callers pretending to be the bank"
    )
    await in_the_inbox(platform, resident, alert_id)
    await grant_verifier_role(platform, *DEMO_ADMIN)
    postcodes = (SHARED_LONDON_DATA / "postcodes.csv").is_file()
    return Seen(resident, alert_id, await proof_waiting(platform) if postcodes else None)


class TestAccessibility:
    @pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
    async def test_every_page_has_no_serious_or_critical_violation(
        self,
        platform: DevStack,
        browser: Browser,
        errors: BrowserErrors,
        axe_source: str,
        published: Seen,
        viewport: dict[str, int],
    ) -> None:
        resident, alert_id = published.resident, published.alert_id
        found: dict[str, Any] = {}

        context, page = await new_page(browser, errors, viewport)
        found |= await scan(page, platform.gateway_url, SIGNED_OUT_PAGES, axe_source)
        await sign_in(page, platform, resident, PASSWORD)
        paths = [path.format(alert_id=alert_id) for path in RESIDENT_PAGES]
        found |= await scan(page, platform.gateway_url, paths, axe_source)
        await context.close()

        context, page = await new_page(browser, errors, viewport)
        await sign_in(page, platform, *DEMO_OFFICER)
        paths = [path.format(alert_id=alert_id) for path in OFFICER_PAGES]
        found |= await scan(page, platform.gateway_url, paths, axe_source)
        await context.close()

        context, page = await new_page(browser, errors, viewport)
        await sign_in(page, platform, *DEMO_ADMIN, then="police/verification")
        paths = [
            path.format(proof_id=published.proof_id)
            for path in VERIFIER_PAGES
            if published.proof_id or "{proof_id}" not in path
        ]
        found |= await scan(page, platform.gateway_url, paths, axe_source)
        await context.close()

        assert found == {}
        assert errors.messages == []

    async def test_the_scan_finds_a_violation_where_there_is_one(
        self, browser: Browser, errors: BrowserErrors, axe_source: str
    ) -> None:
        context, page = await new_page(browser, errors)
        await page.set_content(
            '<html lang="en"><title>t</title><main><h1>t</h1><img src="data:,"></main></html>'
        )

        violations = await serious_violations(page, axe_source)
        await context.close()

        assert [v["id"] for v in violations] == ["image-alt"]
