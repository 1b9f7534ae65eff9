"""The web client in Debian's Chromium (headless, driven by Playwright), against the whole
platform as real processes in a Kafka namespace of its own (as in tests/e2e).

Chromium is ``/usr/bin/chromium`` (``make test`` installs it with apt); Playwright's own
browser downloads are never used. Screenshots of the main screens go to ``$SCREENSHOT_DIR``
when it is set (``make screenshots`` sets it to docs/screenshots)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    async_playwright,
    expect,
)

from deploy.devstack import DevStack, Ports, StackOptions
from shared.kafka import namespaced
from tests.support.infrastructure import (
    PLATFORM_CLIENT_TIMEOUT_S,
    SHARED_RIG_RATE_LIMITS,
    SLOW_MACHINE_ENV,
    Infrastructure,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 860}
# Identity's answer while a member has not begun verifying their address: the address page
# asks, and reads the 404 as "nothing started yet".
NOTHING_STARTED_YET = "/api/identity/members/me/address"
PHONE = {"width": 360, "height": 740}
# How long a page action or an expect() waits for its condition: a backstop (a loaded machine
# makes the platform slow, never wrong), not Playwright's 5 s default.
BROWSER_BACKSTOP_MS = PLATFORM_CLIENT_TIMEOUT_S * 1000
expect.set_options(timeout=BROWSER_BACKSTOP_MS)


@pytest.fixture(scope="session")
def platform(infrastructure: Infrastructure) -> Iterator[DevStack]:
    with tempfile.TemporaryDirectory(prefix="tawny-browser-") as work_dir:
        options = StackOptions(
            ports=Ports.free(),
            work_dir=Path(work_dir),
            database_url=infrastructure.server_url,
            kafka_bootstrap_servers=os.environ.get("E2E_KAFKA_BOOTSTRAP_SERVERS")
            or infrastructure.kafka_bootstrap_servers,
            kafka_enable_idempotence=infrastructure.kafka_enable_idempotence,
            kafka_namespace=namespaced("browser", infrastructure.kafka_namespace),
            database_prefix=f"web_{uuid.uuid4().hex[:6]}_",
            progress=False,
            extra_env={**SLOW_MACHINE_ENV, **SHARED_RIG_RATE_LIMITS},
        )
        with DevStack(options).running() as stack:
            yield stack


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


class BrowserErrors:
    """Script errors and failed requests seen by a page: a page that works has none."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.messages.append(f"page error: {error}"))
        page.on("response", self._check_response)
        page.on("console", self._check_console)

    def _check_console(self, message: ConsoleMessage) -> None:
        # What the Content-Security-Policy refuses shows only here, as a console error.
        if message.type == "error" and "Content Security Policy" in message.text:
            self.messages.append(f"refused by the policy: {message.text}")

    def _check_response(self, response: Response) -> None:
        # A browser asks every origin for /favicon.ico, the opened API link's included.
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            if response.status == 404 and response.url.endswith(NOTHING_STARTED_YET):
                return
            self.messages.append(f"{response.status} from {response.request.method} {response.url}")


@pytest.fixture
def errors() -> BrowserErrors:
    return BrowserErrors()


async def new_page(
    browser: Browser, errors: BrowserErrors, viewport: dict[str, int] = DESKTOP
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport=viewport, locale="en-GB")  # type: ignore[arg-type]
    page = await context.new_page()
    page.set_default_timeout(BROWSER_BACKSTOP_MS)
    errors.watch(page)
    return context, page


@pytest.fixture
async def desktop(browser: Browser, errors: BrowserErrors) -> AsyncIterator[Page]:
    context, page = await new_page(browser, errors)
    yield page
    await context.close()


def screenshot_dir() -> Path | None:
    configured = os.environ.get("SCREENSHOT_DIR")
    return Path(configured) if configured else None


async def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    """Keep a picture of a main screen when SCREENSHOT_DIR is set."""
    directory = screenshot_dir()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(directory / f"{name}.png"), full_page=full_page)
