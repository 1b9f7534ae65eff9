"""The public crime-alert dashboard in Chromium, signed out: London's boroughs shaded on the
map with their table, a borough's page with month-by-month charts and its wards (with the
members watching each), two boroughs compared; axe-clean and without sideways scrolling on a
360 px phone."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from deploy.devstack import DevStack
from tests.browser.conftest import DESKTOP, PHONE, BrowserErrors, new_page, screenshot
from tests.browser.journeys import a_ward, publish_through_the_api
from tests.browser.test_accessibility import AXE, LEAKED_VALUE, serious_violations

pytestmark = pytest.mark.e2e

# More than the public threshold (10), so the borough's count shows as a number.
ALERTS_PUBLISHED = 11


@pytest.fixture(scope="module")
def axe_source() -> str:
    return AXE.read_text()


@pytest.fixture(scope="module")
async def borough_with_alerts(platform: DevStack) -> dict[str, str]:
    ward = await a_ward(platform, 41)
    for n in range(ALERTS_PUBLISHED):
        await publish_through_the_api(platform, ward["code"], f"Dashboard scam warning {n}")
    return ward


class TestDashboard:
    @pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
    async def test_london_a_borough_and_a_comparison_signed_out(
        self,
        platform: DevStack,
        browser: Browser,
        errors: BrowserErrors,
        borough_with_alerts: dict[str, str],
        viewport: dict[str, int],
        axe_source: str,
    ) -> None:
        borough = borough_with_alerts["borough_code"]
        context, page = await new_page(browser, errors, viewport)
        found: dict[str, object] = {}

        await page.goto(f"{platform.gateway_url}/app#/dashboard")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "London crime alerts dashboard"
        )
        await page.locator(f"path.dash-borough-{borough}").wait_for(state="attached")
        row = page.locator("table.dash-boroughs tr", has=page.locator(f'a[href*="{borough}"]'))
        await expect(row.locator("td")).to_have_text(str(ALERTS_PUBLISHED))
        await expect(page.get_by_text("The MOPAC 7 across London")).to_be_visible()
        measures = page.get_by_label("Measure").locator("option")
        await expect(measures.filter(has_text="Members watching now")).to_have_count(1)
        found["london"] = await serious_violations(page, axe_source)
        if viewport is DESKTOP:
            await screenshot(page, "dashboard", full_page=False)

        await row.get_by_role("link").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("crime alerts")
        await page.locator("summary", has_text="Table of these figures").first.click()
        all_types = page.locator("table", has=page.locator("caption", has_text="All crime types"))
        await expect(all_types.locator("tbody tr").last.locator("td")).to_have_text(
            str(ALERTS_PUBLISHED)
        )
        await expect(page.get_by_role("heading", name="Wards", exact=False)).to_be_visible()
        wards = page.locator("table.dash-wards")
        await expect(wards.locator("thead th").last).to_have_text("Members watching now")
        watching = wards.locator("tbody tr", has_text=borough_with_alerts["name"]).locator("td")
        await expect(watching.last).to_have_text(re.compile(r"^(fewer than 10|[0-9,]+)$"))
        found["borough"] = await serious_violations(page, axe_source)

        await page.goto(f"{platform.gateway_url}/app#/dashboard")
        await page.get_by_label("First borough").select_option(borough)
        await page.get_by_role("button", name="Compare").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("compared")
        await page.locator(".dash-figure").first.wait_for()
        found["compare"] = await serious_violations(page, axe_source)

        text = await page.locator("main").inner_text()
        assert LEAKED_VALUE.findall(text) == []
        sideways = await page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
        assert not sideways
        await context.close()
        assert found == {"london": [], "borough": [], "compare": []}
        assert errors.messages == []
