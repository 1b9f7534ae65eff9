"""Alert preferences and channels in the web client: the preferences round trip, a mobile
number confirmed with the code texted to it (read from the Notify sink), and browser
notifications: the service worker registers for /app, a push subscription reaches dispatch
through the page (beside the member's other browser, which the page lists and removes), an
alert pushed to it arrives, and the worker shows it as a notification linking to the alert in
the inbox.

Chromium headless has no push service to subscribe with (``pushManager.subscribe()`` is
refused), so the subscription comes from the web push sink (``POST /subscriptions``, the
``PushSubscription.toJSON()`` a browser would give) and is handed to the page's own
registration function; the push the sink then decrypts is delivered to the service worker
through the DevTools protocol, as a push service would deliver it."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from deploy.devstack import DevStack
from tests.browser.conftest import PHONE, BrowserErrors, new_page, screenshot
from tests.browser.journeys import (
    PASSWORD,
    a_ward,
    bearer,
    eventually,
    notifications,
    publish_through_the_api,
    resident_watching,
    sign_in,
)
from tests.support.infrastructure import PLATFORM_CLIENT_TIMEOUT_S

pytestmark = pytest.mark.e2e


class TestPreferences:
    async def test_preferences_saved_in_the_page_are_what_dispatch_keeps(
        self, platform: DevStack, desktop: Page, errors: BrowserErrors
    ) -> None:
        page = desktop
        email = await resident_watching(platform, (await a_ward(platform, 23))["code"])
        await sign_in(page, platform, email, PASSWORD)
        await page.get_by_role("navigation").get_by_role("link", name="Preferences").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Alert preferences")

        minor = page.get_by_role("group", name="Minor alerts")
        await minor.get_by_label("Text message").check()
        await minor.get_by_label("Email").uncheck()
        await page.get_by_label("Hold alerts that are not urgent during quiet hours").check()
        await page.get_by_label("Quiet hours start").fill("22:30")
        await page.get_by_label("Quiet hours end").fill("06:45")
        await page.get_by_label("Send a daily digest email at").select_option("8")
        await page.get_by_label("Show alerts in").select_option("cy")
        await page.get_by_role("group", name="No alerts about").get_by_label("Road closure").check()
        await page.get_by_role("button", name="Save preferences").click()
        await expect(page.get_by_text("Your preferences are saved.")).to_be_visible()
        await screenshot(page, "resident-preferences", full_page=True)

        async with httpx.AsyncClient(
            base_url=platform.gateway_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as gateway:
            kept = (
                await gateway.get(
                    "/api/dispatch/preferences/me", headers=await bearer(platform, email, PASSWORD)
                )
            ).json()
        assert kept["channels"]["Minor"] == ["fcm", "sms", "webpush"]
        assert kept["quiet_hours"] == {"start": "22:30:00", "end": "06:45:00"}
        assert kept["digest_hour"] == 8
        assert kept["language"] == "cy"
        assert kept["unsubscribed_categories"] == ["road_closure"]

        await page.reload()
        minor = page.get_by_role("group", name="Minor alerts")
        await expect(minor.get_by_label("Text message")).to_be_checked()
        await expect(minor.get_by_label("Email")).not_to_be_checked()
        await expect(page.get_by_label("Quiet hours start")).to_have_value("22:30")
        await expect(page.get_by_label("Send a daily digest email at")).to_have_value("8")
        await expect(page.get_by_label("Show alerts in")).to_have_value("cy")
        assert errors.messages == []

    async def test_a_mobile_number_is_confirmed_with_the_texted_code(
        self, platform: DevStack, desktop: Page, errors: BrowserErrors
    ) -> None:
        page = desktop
        email = await resident_watching(platform, (await a_ward(platform, 24))["code"])
        number = f"07700 9{uuid.uuid4().int % 100_000:05d}"
        await sign_in(page, platform, email, PASSWORD)
        await page.goto(f"{platform.gateway_url}/app#/preferences")

        await page.get_by_label("UK mobile number").fill(number)
        await page.get_by_role("button", name="Text me a code").click()
        await expect(page.get_by_text("We have texted a code to")).to_be_visible()

        async def texted_code() -> str | None:
            for sent in await notifications(platform, phone_number=number.replace(" ", "")):
                found = re.search(r"\b\d{6}\b", " ".join(sent["personalisation"].values()))
                if found:
                    return found.group(0)
            return None

        await page.get_by_label("The code in the text").fill(await eventually(texted_code))
        await page.get_by_role("button", name="Confirm my number").click()
        await expect(page.locator("#my-endpoints")).to_contain_text("Text message: ")
        await expect(page.get_by_role("button", name="Stop text messages")).to_be_visible()
        assert errors.messages == []


SERVICE_WORKER_SCRIPT = """async () => {
    const registration = await navigator.serviceWorker.getRegistration("/app");
    return registration && registration.active ? registration.active.scriptURL : null;
}"""
SHOWN_NOTIFICATIONS = """async () => {
    const registration = await navigator.serviceWorker.getRegistration("/app");
    const shown = await registration.getNotifications();
    return shown.map((n) => ({ title: n.title, body: n.body, url: n.data.url }));
}"""


class TestBrowserNotifications:
    async def test_the_worker_registers_and_shows_an_alert_pushed_to_the_subscription(
        self, platform: DevStack, browser: Browser, errors: BrowserErrors
    ) -> None:
        ward = await a_ward(platform, 25)
        email = await resident_watching(platform, ward["code"])
        context, page = await new_page(browser, errors)
        await context.grant_permissions(["notifications"], origin=platform.gateway_url)
        await sign_in(page, platform, email, PASSWORD)
        await page.goto(f"{platform.gateway_url}/app#/preferences")

        await page.get_by_role("button", name="Turn on browser notifications").click()
        # The worker registers with the scope of the page; headless Chromium then has no push
        # service to subscribe with, and the page says so.
        await expect(page.get_by_role("alert")).to_contain_text("push service")
        assert await page.evaluate(SERVICE_WORKER_SCRIPT) == f"{platform.gateway_url}/app/sw.js"

        async with httpx.AsyncClient(
            base_url=platform.webpush_sink_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as sink:
            subscription: dict[str, Any] = (
                (await sink.post("/subscriptions", json={})).raise_for_status().json()
            )
        subscription_id = subscription["endpoint"].rsplit("/", 1)[1]
        registered = await page.evaluate(
            """async (subscription) => {
                const { registerPushSubscription } = await import("/app/js/push.js");
                return registerPushSubscription(subscription);
            }""",
            subscription,
        )
        assert registered["enabled"] is True
        # The member's other browser, registered beside this one.
        async with httpx.AsyncClient(
            base_url=platform.webpush_sink_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
        ) as sink:
            other_browser = (await sink.post("/subscriptions", json={})).raise_for_status().json()
        await page.evaluate(
            """async (subscription) => {
                const { api } = await import("/app/js/api.js");
                return api("/dispatch/endpoints/me/webpush", { method: "PUT", body: subscription });
            }""",
            other_browser,
        )
        await page.reload()
        browsers = page.locator("#my-endpoints li", has_text="Browser notification: ")
        await expect(browsers).to_have_count(2)
        await expect(browsers.filter(has_text="(this browser)")).to_have_count(1)
        await (
            browsers.filter(has_not_text="(this browser)")
            .get_by_role("button", name=re.compile("^Remove"))
            .click()
        )
        await expect(browsers).to_have_count(1)
        await expect(browsers).to_contain_text("(this browser)")
        await expect(
            page.get_by_role("button", name="Turn off browser notifications")
        ).to_be_visible()

        headline = f"Bike thefts at the station ({uuid.uuid4().hex[:6]})"
        alert_id = await publish_through_the_api(platform, ward["code"], headline)

        async def pushed() -> list[dict[str, Any]]:
            async with httpx.AsyncClient(
                base_url=platform.webpush_sink_url, timeout=PLATFORM_CLIENT_TIMEOUT_S
            ) as sink:
                answer = await sink.get("/messages", params={"subscription": subscription_id})
                return [m for m in answer.json() if alert_id in m["payload"]]

        [push] = await eventually(pushed)
        assert json.loads(push["payload"])["alert_id"] == alert_id

        devtools = await context.new_cdp_session(page)
        registrations: list[dict[str, Any]] = []
        devtools.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.extend(event["registrations"]),
        )
        await devtools.send("ServiceWorker.enable")

        async def registration_id() -> str | None:
            for registration in registrations:
                if registration["scopeURL"].endswith("/app") and not registration["isDeleted"]:
                    return str(registration["registrationId"])
            return None

        await devtools.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": platform.gateway_url,
                "registrationId": await eventually(registration_id),
                "data": push["payload"],
            },
        )

        async def shown() -> list[dict[str, str]]:
            found: list[dict[str, str]] = await page.evaluate(SHOWN_NOTIFICATIONS)
            return found

        [notification] = await eventually(shown)
        assert headline in notification["title"]
        assert notification["url"] == f"{platform.gateway_url}/app#/inbox/{alert_id}"

        await page.get_by_role("button", name="Turn off browser notifications").click()
        await expect(
            page.get_by_role("button", name="Turn on browser notifications")
        ).to_be_visible()
        await context.close()
        assert errors.messages == []


class TestOnAPhone:
    async def test_the_address_and_preferences_pages_fit_a_360_px_screen(
        self, platform: DevStack, browser: Browser, errors: BrowserErrors
    ) -> None:
        email = await resident_watching(platform, (await a_ward(platform, 26))["code"])
        context, phone = await new_page(browser, errors, PHONE)
        await sign_in(phone, platform, email, PASSWORD)

        for view, heading, picture in [
            ("preferences", "Alert preferences", "phone-preferences"),
            ("address", "Verify my address", "phone-address"),
        ]:
            await phone.goto(f"{platform.gateway_url}/app#/{view}")
            await expect(phone.get_by_role("heading", level=1)).to_have_text(heading)
            assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            await screenshot(phone, picture, full_page=True)
        await context.close()
        assert errors.messages == []
