"""The web client's files: its page, modules and style sheet, the Leaflet files it imports
from node_modules, and its settings; nothing outside those folders."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from services.gateway.client.endpoints import LEAFLET_DIST, WEB_ROOT
from services.gateway.client.schemas import TARGETING_EXAMPLE
from tests.gateway.fakes import gateway_settings, network, running_gateway
from tests.gateway.pages.test_endpoints import assert_security_headers


class ScriptCheck(HTMLParser):
    """Collects what the strict Content-Security-Policy would block: inline scripts, inline
    event handlers and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.module_sources: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.blocked += [f"{tag} {name}" for name in attributes if name.startswith("on")]
        if "style" in attributes:
            self.blocked.append(f"{tag} style")
        if tag == "script":
            if not attributes.get("src"):
                self.blocked.append("inline script")
            elif attributes.get("type") == "module":
                self.module_sources.append(str(attributes["src"]))


class TestClientPage:
    @pytest.mark.parametrize("path", ["/app", "/app/", "/reset-password"])
    async def test_is_one_page_with_only_same_origin_module_scripts(self, path: str) -> None:
        async with running_gateway(network()) as client:
            response = await client.get(path)

        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        check = ScriptCheck()
        check.feed(response.text)
        assert check.blocked == []
        assert check.module_sources == ["/app/js/main.js"]
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert_security_headers(response)

    async def test_no_file_of_the_client_uses_inline_handlers_or_html_strings(self) -> None:
        for module in WEB_ROOT.rglob("*.js"):
            source = module.read_text()
            assert ".innerHTML" not in source, module
            assert "eval(" not in source, module
            assert "new Function" not in source, module


class TestClientFiles:
    async def test_serves_the_modules_and_the_style_sheet(self) -> None:
        async with running_gateway(network()) as client:
            module = await client.get("/app/js/main.js")
            style = await client.get("/app/css/app.css")

        assert module.status_code == 200
        assert module.headers["content-type"] == "text/javascript; charset=utf-8"
        assert "import" in module.text
        assert style.status_code == 200
        assert style.headers["content-type"] == "text/css; charset=utf-8"

    async def test_serves_the_service_worker_for_the_scope_of_the_page(self) -> None:
        async with running_gateway(network()) as client:
            worker = await client.get("/app/sw.js")

        assert worker.status_code == 200
        assert worker.headers["content-type"] == "text/javascript; charset=utf-8"
        # Served from /app/, it may control /app (the page) only because the header says so.
        assert worker.headers["service-worker-allowed"] == "/app"
        assert "showNotification" in worker.text
        assert_security_headers(worker)

    @pytest.mark.parametrize(
        "path",
        [
            "/app/js/missing.js",
            "/app/../client/endpoints.py",
            "/app/%2e%2e/client/endpoints.py",
            "/app/js/..%2F..%2Fclient%2Fendpoints.py",
            "/app/%00",
            "/app/index.html%00.js",
            "/vendor/leaflet/leaflet.css%00",
        ],
    )
    async def test_anything_else_is_a_problem_404(self, path: str) -> None:
        async with running_gateway(network()) as client:
            response = await client.get(path)

        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


class TestLeaflet:
    async def test_serves_the_installed_module_and_style_sheet(self) -> None:
        installed = (LEAFLET_DIST / "leaflet-src.esm.js").read_bytes()
        async with running_gateway(network()) as client:
            module = await client.get("/vendor/leaflet/leaflet-src.esm.js")
            style = await client.get("/vendor/leaflet/leaflet.css")

        assert module.status_code == 200
        assert module.content == installed
        assert module.headers["content-type"] == "text/javascript; charset=utf-8"
        assert style.status_code == 200

    @pytest.mark.parametrize(
        "path", ["/vendor/leaflet/leaflet.js.map", "/vendor/leaflet/../package.json"]
    )
    async def test_serves_nothing_else_of_the_package(self, path: str) -> None:
        async with running_gateway(network()) as client:
            response = await client.get(path)

        assert response.status_code == 404


class TestClientSettings:
    async def test_no_tile_server_by_default(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get("/app/settings.json")

        assert response.status_code == 200
        assert response.json() == {"map_tile_url": None, "targeting": TARGETING_EXAMPLE}

    async def test_a_configured_tile_server_is_passed_on_and_allowed_by_the_policy(
        self,
    ) -> None:
        settings = gateway_settings(map_tile_url="https://tiles.example")
        async with running_gateway(network(), settings=settings) as client:
            response = await client.get("/app/settings.json")

        assert response.json() == {
            "map_tile_url": "https://tiles.example",
            "targeting": TARGETING_EXAMPLE,
        }
        assert (
            "img-src 'self' data: https://tiles.example"
            in (response.headers["content-security-policy"])
        )


class TestRevalidation:
    @pytest.mark.parametrize("path", ["/app", "/app/js/main.js", "/vendor/leaflet/leaflet.css"])
    async def test_files_carry_an_etag_and_are_304_when_unchanged(self, path: str) -> None:
        async with running_gateway(network()) as client:
            first = await client.get(path)
            again = await client.get(path, headers={"If-None-Match": first.headers["etag"]})

        assert first.status_code == 200
        assert first.headers["cache-control"] == "no-cache"
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == first.headers["etag"]
