"""The resident's and the officer's journeys through the web client, end to end: sign up,
confirm the email from the SMTP sink, sign in, watch a ward by clicking it on the map; an
officer writes an alert for that ward and publishes it; it arrives in the resident's inbox and
in the SMTP sink, and the resident's reply reaches the officer under a pseudonym."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from deploy.devstack import DEMO_ADMIN, DEMO_OFFICER, SHARED_LONDON_DATA, DevStack
from services.identity import totp
from tests.browser.conftest import PHONE, BrowserErrors, new_page, screenshot
from tests.browser.journeys import (
    PASSWORD,
    a_ward,
    cap_received_without_a_crime_type,
    click_ward,
    eventually,
    mail_to,
    resident_watching,
    sign_in,
    unique_email,
    verification_link,
    verify_address_through_the_api,
)
from tests.browser.test_accessibility import AXE, serious_violations
from tests.support.infrastructure import PLATFORM_CLIENT_TIMEOUT_S

pytestmark = pytest.mark.e2e


class TestResidentJourney:
    async def test_signs_up_confirms_the_email_signs_in_and_watches_a_ward_on_the_map(
        self, platform: DevStack, desktop: Page, errors: BrowserErrors
    ) -> None:
        page = desktop
        email = unique_email()
        ward = await a_ward(platform, 5)

        await page.goto(f"{platform.gateway_url}/app")
        await screenshot(page, "home")
        await page.get_by_role("navigation").get_by_role("link", name="Sign up").click()
        await page.get_by_label("Email address").fill(email)
        await page.get_by_label("Choose a password").fill(PASSWORD)
        await screenshot(page, "sign-up")
        await page.get_by_role("button", name="Sign up").click()
        await expect(page.locator(".notice")).to_contain_text(f"we have sent a link to {email}")

        # The emailed link sends a browser to the client's page, which confirms the address.
        opened = await page.goto(await verification_link(platform, email))
        assert opened is not None and opened.ok
        await expect(page.locator(".notice")).to_contain_text("your email address is confirmed")

        await sign_in(page, platform, email, PASSWORD)
        await expect(page.get_by_role("heading", level=1)).to_have_text("My alerts")
        await expect(page.get_by_text("No alerts yet")).to_be_visible()

        await page.get_by_role("navigation").get_by_role("link", name="Areas I watch").click()
        await click_ward(page, ward["code"])
        await expect(page.locator("#chosen-area")).to_contain_text(ward["name"])
        await page.get_by_label("Only alerts at least this serious").select_option("Moderate")
        await page.get_by_role("button", name="Watch this area").click()

        await expect(page.get_by_role("heading", name="Watching 1 area")).to_be_visible()
        watched = page.locator("li.card", has_text=ward["name"])
        await expect(watched).to_contain_text("Moderate and above")
        await screenshot(page, "resident-areas", full_page=True)
        await page.get_by_role("navigation").get_by_role("link", name="My account").click()
        await expect(page.get_by_text("(confirmed)")).to_be_visible()
        await expect(page.get_by_text(re.compile(r"email: \w\*\*\*@example\.org"))).to_be_visible()
        assert errors.messages == []

    async def test_downloads_their_data_and_deletes_their_account(
        self, platform: DevStack, desktop: Page, errors: BrowserErrors
    ) -> None:
        page = desktop
        email = await resident_watching(platform, (await a_ward(platform, 13))["code"])
        await sign_in(page, platform, email, PASSWORD)
        await page.get_by_role("navigation").get_by_role("link", name="My account").click()

        await page.get_by_role("button", name="Download my data").click()
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Save tawny-my-data.json").click()
        download = await download_info.value
        exported = json.loads(await asyncio.to_thread(Path(await download.path()).read_text))
        # One archive: identity's part and every other service's.
        assert exported["identity"]["member"]["email"] == email
        assert [exported[service]["service"] for service in ("alerts", "geo", "dispatch")] == [
            "alerts",
            "geo",
            "dispatch",
        ]
        assert "missing" not in exported

        await page.get_by_label("Your password, to confirm").fill(PASSWORD)
        await page.get_by_role("button", name="Delete my account").click()
        await expect(
            page.get_by_role("navigation").get_by_role("link", name="Sign in")
        ).to_be_visible()
        await page.goto(f"{platform.gateway_url}/app#/sign-in")
        await page.get_by_label("Email address").fill(email)
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_be_visible()
        refused = [m for m in errors.messages if "/api/identity/tokens" in m]
        assert refused and all(m.startswith("401 ") for m in refused)
        errors.messages.clear()

    @pytest.mark.skipif(
        not (SHARED_LONDON_DATA / "postcodes.csv").is_file(),
        reason="the postcode file is in ../shared/data/london",
    )
    async def test_watches_a_circle_round_a_postcode(
        self, platform: DevStack, desktop: Page, errors: BrowserErrors
    ) -> None:
        page = desktop
        email = await resident_watching(platform, (await a_ward(platform, 15))["code"])
        await sign_in(page, platform, email, PASSWORD)
        await page.get_by_role("navigation").get_by_role("link", name="Areas I watch").click()

        await page.get_by_label("A circle round a place").check()
        await page.get_by_label("Postcode of the place").fill("SW1A 1AA")
        await page.get_by_role("button", name="Find").click()
        await page.get_by_label("How far round it").select_option("500")
        await expect(page.locator("#chosen-area")).to_have_text(
            "Chosen: within 500 metres of 51.5010, -0.1416"
        )
        await page.get_by_label("A name for it (optional)").fill("Round the palace")
        await page.get_by_role("button", name="Watch this area").click()

        await expect(page.get_by_role("heading", name="Watching 2 areas")).to_be_visible()
        circle = page.locator("li.card", has_text="Round the palace")
        await expect(circle).to_contain_text("Within 500 m of 51.5010, -0.1416")
        await expect(page.locator(".map path:not(.ward)").first).to_be_attached()
        assert errors.messages == []


async def publish_in_the_console(page: Page, platform: DevStack, ward: dict[str, str]) -> str:
    """The officer writes an alert for ``ward`` on the map and publishes it; its headline."""
    headline = f"Van break-ins on the high street ({uuid.uuid4().hex[:6]})"
    await sign_in(page, platform, *DEMO_OFFICER)
    await page.get_by_role("navigation").get_by_role("link", name="Write an alert").click()
    await page.get_by_label("Crime type").select_option("theft_from_motor_vehicle")
    await page.get_by_label("Headline").fill(headline)
    await page.get_by_label("What residents should know").fill(
        "Three vans were broken into overnight and tools taken."
    )
    await page.get_by_label("What to do (optional)").fill("Take tools out of vans overnight.")
    await page.get_by_label("Text message (SMS)").check()
    await click_ward(page, ward["code"])

    await expect(page.get_by_role("list", name="Chosen areas")).to_contain_text(ward["name"])
    await expect(page.locator("#audience")).to_have_text(
        re.compile(r"This alert will reach [1-9][0-9,]* (person|people)\.")
    )
    await expect(page.get_by_role("heading", name="Email subject")).to_be_visible()
    await expect(page.locator(".preview").first).to_contain_text(headline)
    await expect(
        page.get_by_role("heading", name=re.compile(r"Text message: \d+ parts?"))
    ).to_be_visible()
    await screenshot(page, "police-compose", full_page=True)

    await page.get_by_label("This alert names no victim").check()
    await page.get_by_role("button", name="Save as draft").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(headline)
    await expect(page.locator("#alert-state")).to_have_text("draft")
    await page.get_by_role("button", name="Publish now").click()
    await expect(page.locator("#alert-state")).to_have_text("published")
    return headline


class TestOfficerJourney:
    async def test_an_alert_published_in_the_console_reaches_the_residents_inbox_and_mailbox(
        self, platform: DevStack, browser: Browser, desktop: Page, errors: BrowserErrors
    ) -> None:
        ward = await a_ward(platform, 7)
        resident = await resident_watching(platform, ward["code"])
        # Replies are open to residents whose address is verified; identity places an address
        # by its postcode, from the file in ../shared.
        can_reply = (SHARED_LONDON_DATA / "postcodes.csv").is_file()
        if can_reply:
            await verify_address_through_the_api(platform, resident)
        officer = desktop

        headline = await publish_in_the_console(officer, platform, ward)

        async def mail_with_headline() -> list[dict[str, Any]]:
            return [m for m in await mail_to(platform, resident) if headline in m["subject"]]

        [mail] = await eventually(mail_with_headline)
        assert "Three vans were broken into overnight and tools taken." in mail["text"]

        context, page = await new_page(browser, errors)
        await sign_in(page, platform, resident, PASSWORD)
        alert_link = page.get_by_role("link", name=headline)

        async def in_the_inbox() -> bool:
            await page.goto(f"{platform.gateway_url}/app#/inbox")
            await page.reload()
            await page.get_by_role("heading", level=1, name="My alerts").wait_for()
            return await alert_link.count() == 1

        await eventually(in_the_inbox)
        await screenshot(page, "resident-inbox")
        await alert_link.click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(headline)
        await expect(page.locator(f"path.ward-{ward['code']}")).to_have_attribute(
            "stroke", "#1d4f91"
        )
        await page.get_by_role("button", name="Yes, useful").click()
        await expect(page.locator(".notice")).to_have_text("Thank you: marked as useful.")
        reply = f"I saw a white van at 3am ({uuid.uuid4().hex[:6]})."
        if can_reply:
            await page.get_by_label("Reply to the police").fill(reply)
            await page.get_by_role("button", name="Send reply").click()
            await expect(page.locator(".notice")).to_have_text("Your reply was sent.")
        else:
            await expect(page.locator("#reply-needs-address")).to_be_visible()
        await screenshot(page, "resident-alert", full_page=True)
        await context.close()

        phone_context, phone = await new_page(browser, errors, PHONE)
        await sign_in(phone, platform, resident, PASSWORD)
        await expect(phone.get_by_role("link", name=headline)).to_be_visible()
        assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await screenshot(phone, "phone-inbox", full_page=True)
        await phone.get_by_role("link", name=headline).click()
        await expect(phone.get_by_role("heading", level=1)).to_have_text(headline)
        assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await screenshot(phone, "phone-alert", full_page=True)
        await phone_context.close()

        if can_reply:
            await officer.get_by_role("navigation").get_by_role("link", name="Replies").click()
            answered = officer.locator("li.card", has_text=reply)
            await expect(answered).to_be_visible()
            pseudonym = await answered.get_by_role("heading").inner_text()
            assert pseudonym and "@" not in pseudonym
            await screenshot(officer, "police-replies")
        await (
            officer.get_by_role("navigation").get_by_role("link", name="Alerts", exact=True).click()
        )
        await expect(officer.get_by_role("link", name=headline)).to_be_visible()
        await screenshot(officer, "police-alerts")
        await officer.get_by_role("link", name=headline).click()
        await expect(officer.get_by_text("1 found it useful")).to_be_visible()
        await expect(officer.get_by_role("figure")).to_contain_text("sent")
        await screenshot(officer, "police-alert", full_page=True)
        assert errors.messages == []


class TestApprovalAndFollowUps:
    async def test_an_extreme_alert_is_approved_by_another_officer_then_updated_and_cancelled(
        self, platform: DevStack, browser: Browser, desktop: Page, errors: BrowserErrors
    ) -> None:
        ward = await a_ward(platform, 11)
        headline = f"Armed robbery at the post office ({uuid.uuid4().hex[:6]})"
        author = desktop
        await sign_in(author, platform, *DEMO_OFFICER)
        await author.get_by_role("navigation").get_by_role("link", name="Write an alert").click()
        await author.get_by_label("Crime type").select_option("robbery")
        await author.get_by_label("Severity").select_option("Extreme")
        await author.get_by_label("Headline").fill(headline)
        await author.get_by_label("What residents should know").fill("Two men with a knife.")
        # The keyboard's way to a ward: search by name instead of clicking the map.
        await author.get_by_label("Add a ward by name").fill(ward["name"])
        await author.get_by_label("Add a ward by name").press("Enter")
        await (
            author.get_by_role("list", name="Matching wards")
            .get_by_role("button", name=ward["name"], exact=True)
            .first.click()
        )
        await expect(author.get_by_role("list", name="Chosen areas")).to_contain_text(ward["name"])
        # And a circle drawn on the map, 2 km round a clicked point.
        await author.get_by_label("Draw a circle: click the map for its centre").check()
        await author.get_by_label("Circle radius in kilometres").fill("2")
        await click_ward(author, ward["code"])
        await expect(author.get_by_role("list", name="Chosen areas")).to_contain_text("2 km round")
        await author.get_by_label("This alert names no victim").check()
        await author.get_by_role("button", name="Save as draft").click()
        await expect(author.locator("#alert-state")).to_have_text("draft")

        await author.get_by_role("button", name="Submit for approval").click()
        await expect(author.locator("#alert-state")).to_have_text("submitted")
        await expect(author.get_by_text("you cannot approve your own alert")).to_be_visible()
        await expect(author.get_by_role("button", name="Approve")).to_have_count(0)

        context, approver = await new_page(browser, errors)
        await sign_in(approver, platform, *DEMO_ADMIN)
        await approver.goto(author.url)
        await approver.get_by_role("button", name="Approve").click()
        await expect(approver.locator("#alert-state")).to_have_text("approved")
        await approver.get_by_role("button", name="Publish now").click()
        await expect(approver.locator("#alert-state")).to_have_text("published")
        await context.close()

        await author.reload()
        await expect(author.locator("#alert-state")).to_have_text("published")
        await author.get_by_label("New advice").fill("Police remain in the area.")
        await author.get_by_role("button", name="Send update").click()
        # An Update of an Extreme alert waits for another officer too.
        await expect(author.locator(".notice")).to_have_text(
            "Held: it goes out once another officer approves it."
        )
        await expect(author.locator("#alert-state")).to_have_text("published")
        held = await author.get_by_role("link", name="The held message, to approve").get_attribute(
            "href"
        )
        context, approver = await new_page(browser, errors)
        await sign_in(approver, platform, *DEMO_ADMIN, then=str(held).removeprefix("#/"))
        await approver.get_by_role("button", name="Approve").click()
        await expect(approver.locator(".notice")).to_have_text("Approved.")
        await context.close()
        await author.reload()
        await expect(author.locator("#alert-state")).to_have_text("updated")
        await author.get_by_label("Why (sent to everyone who received it)").fill(
            "Sent in error: it was a false alarm."
        )
        await author.get_by_role("button", name="Cancel alert").click()
        await expect(author.locator(".notice")).to_have_text("Cancelled.")
        await expect(author.locator("#alert-state")).to_have_text("cancelled")
        assert errors.messages == []


async def grant_officer_role(platform: DevStack, email: str) -> None:
    """What a platform admin does for a new police officer (through the API)."""
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
    ) as gateway:

        async def bearer(address: str, password: str) -> dict[str, str]:
            answer = await gateway.post(
                "/api/identity/tokens", json={"email": address, "password": password}
            )
            return {"Authorization": f"Bearer {answer.json()['access_token']}"}

        member = (
            await gateway.get("/api/identity/members/me", headers=await bearer(email, PASSWORD))
        ).json()
        granted = await gateway.put(
            f"/api/identity/members/{member['member_id']}/roles",
            headers=await bearer(*DEMO_ADMIN),
            json={"roles": ["resident", "officer"]},
        )
        assert granted.status_code == 200, granted.text


class TestDerivedCrimeType:
    async def test_an_officer_corrects_the_crime_type_of_received_cap_before_approval(
        self, platform: DevStack, desktop: Page
    ) -> None:
        headline = f"Unattended bag near the station ({uuid.uuid4().hex[:6]})"
        alert_id = await cap_received_without_a_crime_type(platform, headline)
        await sign_in(desktop, platform, *DEMO_OFFICER)
        await desktop.goto(f"{platform.gateway_url}/app#/police/alerts/{alert_id}")
        correction = desktop.get_by_role("heading", name="Check the crime type")
        await expect(correction).to_be_visible()
        assert await serious_violations(desktop, AXE.read_text()) == []

        await desktop.get_by_label("Crime type").select_option("criminal_damage")
        await desktop.get_by_role("button", name="Save crime type").click()

        await expect(desktop.locator(".messages .notice")).to_have_text("Crime type saved.")
        await expect(desktop.locator(".meta").first).to_contain_text("Criminal damage")
        # No longer derived: the control is gone, and approval is the next step.
        await expect(correction).to_have_count(0)
        await expect(desktop.get_by_role("button", name="Approve")).to_be_visible()


class TestStaffTwoStepSignIn:
    async def test_a_new_officer_sets_up_two_step_sign_in_and_then_reaches_the_console(
        self, platform: DevStack, desktop: Page, errors: BrowserErrors
    ) -> None:
        page = desktop
        email = await resident_watching(platform, (await a_ward(platform, 17))["code"])
        await grant_officer_role(platform, email)

        await sign_in(page, platform, email, PASSWORD)
        await expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
        await expect(
            page.get_by_role("navigation").get_by_role("link", name="Alerts", exact=True)
        ).to_have_count(0)
        await page.get_by_role("button", name="Set up two-step sign-in").click()
        secret = base64.b32decode(await page.locator("#totp-secret").inner_text())
        enrolled_at = totp.current_step()
        await page.get_by_label("The six-digit code the app shows").fill(totp.totp(secret))
        await page.get_by_role("button", name="Confirm").click()
        await expect(
            page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
        ).not_to_have_count(0)

        await page.get_by_role("button", name="Sign out").click()
        # A code is accepted once: sign in with the next one.
        next_step_in = (enrolled_at + 1) * totp.STEP_S - time.time()
        if next_step_in > 0:
            await asyncio.sleep(next_step_in + 0.2)
        await page.get_by_label("Email address").fill(email)
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        await page.get_by_label("Authenticator code").fill(totp.totp(secret))
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
        await expect(
            page.get_by_role("navigation").get_by_role("link", name="Write an alert")
        ).to_be_visible()
        assert errors.messages == []
