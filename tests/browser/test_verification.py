"""Verification in the web client: a resident has a letter posted, reads its code (from the
Notify sink, where dev posts letters), enters it, and can then reply to an alert; another sends
a proof of address that a verifier approves from the verification queue. Residents upload an
identity document and apply to coordinate a scheme from their pages, and a verifier records
the document's check and approves the application from the queue."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, FilePayload, Page, expect

from deploy.devstack import DEMO_ADMIN, SHARED_LONDON_DATA, DevStack
from tests.browser.conftest import BrowserErrors, new_page, screenshot
from tests.browser.journeys import (
    PASSWORD,
    a_ward,
    bearer,
    grant_verifier_role,
    in_the_inbox,
    letter_code,
    publish_through_the_api,
    resident_watching,
    sign_in,
)
from tests.support.infrastructure import PLATFORM_CLIENT_TIMEOUT_S

pytestmark = [
    pytest.mark.e2e,
    # Identity places an address by its postcode: the offline postcode file is in ../shared.
    pytest.mark.skipif(
        not (SHARED_LONDON_DATA / "postcodes.csv").is_file(),
        reason="the postcode file is in ../shared/data/london",
    ),
]


def a_scanned_bill() -> bytes:
    image = Image.new("RGB", (240, 160), "white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def fill_address(page: Page, form_button: str, name: str) -> None:
    """The address fields of the form whose submit button is ``form_button``."""
    form = page.locator("form", has=page.get_by_role("button", name=form_button))
    await form.get_by_label("Full name").fill(name)
    await form.get_by_label("Address line 1").fill("Flat 2, 10 Buckingham Gate")
    await form.get_by_label("Postcode").fill("SW1A 1AA")


class TestAddressLetter:
    async def test_the_code_from_the_letter_verifies_the_address_and_opens_replies(
        self, platform: DevStack, desktop: Page, errors: BrowserErrors
    ) -> None:
        page = desktop
        ward = await a_ward(platform, 19)
        email = await resident_watching(platform, ward["code"])
        headline = f"Courier fraud in the area ({uuid.uuid4().hex[:6]})"
        alert_id = await publish_through_the_api(platform, ward["code"], headline)
        await in_the_inbox(platform, email, alert_id)
        name = f"Sam Browser {uuid.uuid4().hex[:6]}"

        await sign_in(page, platform, email, PASSWORD)
        await page.goto(f"{platform.gateway_url}/app#/inbox/{alert_id}")
        await expect(page.locator("#reply-needs-address")).to_contain_text(
            "open to members whose address is verified"
        )
        await expect(page.get_by_label("Reply to the police")).to_have_count(0)
        await page.get_by_role("link", name="Verify your address").click()
        await expect(page.locator("#verification-level")).to_have_text("Email confirmed")

        await fill_address(page, "Post me a code", name)
        await page.get_by_role("button", name="Post me a code").click()
        await expect(page.locator("#address-status")).to_contain_text("A letter with a code")
        code = await letter_code(platform, name)
        await page.get_by_label("The code from the letter").fill(code.lower())
        await page.get_by_role("button", name="Verify my address").click()

        await expect(
            page.get_by_text("your address is verified. You can now reply")
        ).to_be_visible()
        await expect(page.locator("#verification-level")).to_have_text("Address verified")
        await screenshot(page, "resident-address", full_page=True)
        # No signing in again: the page took a new token with the new level.
        await page.goto(f"{platform.gateway_url}/app#/inbox/{alert_id}")
        reply = f"A man in a suit knocked at number 12 ({uuid.uuid4().hex[:6]})."
        await page.get_by_label("Reply to the police").fill(reply)
        await page.get_by_role("button", name="Send reply").click()
        await expect(page.locator(".notice")).to_have_text("Your reply was sent.")
        assert errors.messages == []

    async def test_a_wrong_code_is_refused_with_the_tries_left(
        self, platform: DevStack, desktop: Page, errors: BrowserErrors
    ) -> None:
        page = desktop
        email = await resident_watching(platform, (await a_ward(platform, 20))["code"])
        await sign_in(page, platform, email, PASSWORD)
        await page.goto(f"{platform.gateway_url}/app#/address")
        await fill_address(page, "Post me a code", f"Sam Wrong {uuid.uuid4().hex[:6]}")
        await page.get_by_role("button", name="Post me a code").click()
        await expect(page.locator("#address-status")).to_contain_text("5 tries left")

        await page.get_by_label("The code from the letter").fill("AAAAAAAA")
        await page.get_by_role("button", name="Verify my address").click()

        await expect(page.get_by_role("alert")).to_be_visible()
        await expect(page.locator("#verification-level")).to_have_text("Email confirmed")
        refused = [m for m in errors.messages if "/address/confirmation" in m]
        assert refused and all(m.startswith("4") for m in refused)
        errors.messages.clear()


class TestProofOfAddress:
    async def test_a_verifier_approves_an_uploaded_proof_from_the_queue(
        self, platform: DevStack, browser: Browser, desktop: Page, errors: BrowserErrors
    ) -> None:
        resident = desktop
        email = await resident_watching(platform, (await a_ward(platform, 21))["code"])
        name = f"Alex Proof {uuid.uuid4().hex[:6]}"
        async with httpx.AsyncClient(
            base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as gateway:
            me = await gateway.get(
                "/api/identity/members/me", headers=await bearer(platform, email, PASSWORD)
            )
        pseudonym = me.json()["pseudonym"]

        await sign_in(resident, platform, email, PASSWORD)
        await resident.get_by_role("navigation").get_by_role("link", name="My account").click()
        await resident.get_by_role("link", name="Verify my address").click()
        await fill_address(resident, "Send for checking", name)
        await resident.get_by_label("A proof of address").set_input_files(
            files=FilePayload(name="bill.png", mimeType="image/png", buffer=a_scanned_bill())
        )
        await resident.get_by_role("button", name="Send for checking").click()
        await expect(resident.get_by_text("a verifier will look at it")).to_be_visible()
        await expect(resident.locator("#address-status")).to_contain_text("waits for a verifier")

        await grant_verifier_role(platform, *DEMO_ADMIN)
        context, verifier = await new_page(browser, errors)
        # Straight to the queue: staff start on the alerts list, which is not this test's.
        await sign_in(verifier, platform, *DEMO_ADMIN, then="police/verification")
        await expect(
            verifier.get_by_role("navigation").get_by_role("link", name="Verification queue")
        ).to_have_attribute("aria-current", "page")
        item = verifier.get_by_role("link", name=f"Proof of address from {pseudonym}")
        await expect(item).to_be_visible()
        await screenshot(verifier, "police-verification")
        await item.click()
        await expect(verifier.locator("#claimed-address")).to_contain_text(name)
        await expect(verifier.locator("#claimed-address")).to_contain_text("SW1A 1AA")
        await expect(
            verifier.get_by_role("img", name=f"the proof of address sent by {pseudonym}")
        ).to_be_visible()
        await screenshot(verifier, "police-verification-proof", full_page=True)
        await verifier.get_by_role("button", name="Approve the address").click()
        await expect(verifier.locator(".notice")).to_contain_text(
            f"Approved: {pseudonym}'s address is verified."
        )
        await verifier.get_by_role("link", name="Back to the queue").click()
        await expect(item).to_have_count(0)
        await context.close()

        await resident.reload()
        await expect(resident.locator("#verification-level")).to_have_text("Address verified")
        level = await resident.evaluate(
            "JSON.parse(sessionStorage.getItem('tawny.session')).verificationLevel"
        )
        assert level == "address"
        assert errors.messages == []


class TestIdentityDocument:
    async def test_a_verifier_records_the_check_of_an_uploaded_document(
        self, platform: DevStack, desktop: Page, errors: BrowserErrors
    ) -> None:
        email = await resident_watching(platform, (await a_ward(platform, 22))["code"])
        headers = await bearer(platform, email, PASSWORD)
        async with httpx.AsyncClient(
            base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as gateway:
            pseudonym = (await gateway.get("/api/identity/members/me", headers=headers)).json()[
                "pseudonym"
            ]
        resident = desktop
        await sign_in(resident, platform, email, PASSWORD, then="address")
        await resident.get_by_role("link", name="Have my identity checked").click()
        await expect(resident.get_by_role("heading", level=1)).to_have_text(
            "Have my identity checked"
        )
        await resident.get_by_label("Your identity document").set_input_files(
            FilePayload(name="passport.png", mimeType="image/png", buffer=a_scanned_bill())
        )
        await resident.get_by_role("button", name="Send for checking").click()
        await expect(resident.locator("#identity-document-status")).to_contain_text(
            "a verifier will check your document"
        )
        await screenshot(resident, "resident-identity-document")
        await resident.get_by_role("button", name="Sign out").click()
        await grant_verifier_role(platform, *DEMO_ADMIN)
        verifier = desktop

        # Straight to the queue: staff start on the alerts list, which is not this test's.
        await sign_in(verifier, platform, *DEMO_ADMIN, then="police/verification")
        await verifier.get_by_role("link", name=f"Identity document from {pseudonym}").click()
        await expect(verifier.get_by_role("img", name="the identity document")).to_be_visible()
        await verifier.get_by_label("Kind of document").select_option("driving_licence")
        await verifier.get_by_label("It is genuine and matches the member").check()
        await verifier.get_by_role("button", name="Record the check").click()

        await expect(verifier.locator(".notice")).to_have_text(
            "The check is recorded and the document deleted."
        )
        async with httpx.AsyncClient(
            base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as gateway:
            me = (await gateway.get("/api/identity/members/me", headers=headers)).json()
        assert me["verification_level"] == "identity"
        assert errors.messages == []


class TestCoordinatorApplication:
    async def test_a_verifier_approves_an_application_with_the_vetting_reference(
        self, platform: DevStack, desktop: Page, errors: BrowserErrors
    ) -> None:
        ward = await a_ward(platform, 28)
        email = await resident_watching(platform, ward["code"])
        headers = await bearer(platform, email, PASSWORD)
        statement = f"I have lived on this street for twelve years ({uuid.uuid4().hex[:6]})."
        scheme_name = f"Browser Street Neighbourhood Watch {uuid.uuid4().hex[:6]}"
        async with httpx.AsyncClient(
            base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as gateway:
            # The dev stack seeds no Neighbourhood Watch scheme: the platform admin registers one.
            scheme = await gateway.post(
                "/api/identity/organisations",
                headers=await bearer(platform, *DEMO_ADMIN),
                json={
                    "kind": "nw_scheme",
                    "code": f"nw-browser-{uuid.uuid4().hex[:8]}",
                    "name": scheme_name,
                    "ward_codes": [ward["code"]],
                },
            )
            assert scheme.status_code == 201, scheme.text
            pseudonym = (await gateway.get("/api/identity/members/me", headers=headers)).json()[
                "pseudonym"
            ]
        resident = desktop
        await sign_in(resident, platform, email, PASSWORD, then="coordinate")
        await expect(resident.get_by_role("heading", level=1)).to_have_text(
            "Coordinate a Neighbourhood Watch scheme"
        )
        await resident.get_by_label("Neighbourhood Watch scheme").select_option(scheme.json()["id"])
        await resident.get_by_label("Why you would like to coordinate it").fill(statement)
        await resident.get_by_role("button", name="Apply to coordinate").click()
        await expect(resident.locator("#my-applications")).to_contain_text(
            f"{scheme_name}: waits for the police to decide"
        )
        await screenshot(resident, "resident-coordinator-application")
        await resident.get_by_role("button", name="Sign out").click()
        await grant_verifier_role(platform, *DEMO_ADMIN)
        verifier = desktop

        # Straight to the queue: staff start on the alerts list, which is not this test's.
        await sign_in(verifier, platform, *DEMO_ADMIN, then="police/verification")
        await verifier.get_by_role("link", name=f"Coordinator application from {pseudonym}").click()
        await expect(verifier.get_by_text(statement)).to_be_visible()
        await verifier.get_by_label("Vetting reference (to approve)").fill("MPS/NPPV2/48213")
        await verifier.get_by_label("Vetting valid until (to approve)").fill(
            (date.today() + timedelta(days=3 * 365)).isoformat()
        )
        await verifier.get_by_role("button", name="Approve as coordinator").click()

        await expect(verifier.locator(".notice")).to_contain_text(
            f"Approved: {pseudonym} coordinates the scheme"
        )
        async with httpx.AsyncClient(
            base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as gateway:
            [application] = (
                await gateway.get(
                    "/api/identity/members/me/coordinator-applications", headers=headers
                )
            ).json()
        assert application["status"] == "approved"
        assert application["vetting_reference"] == "MPS/NPPV2/48213"
        assert errors.messages == []
