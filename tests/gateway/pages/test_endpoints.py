"""The home page and the API documentation index."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx

from tests.gateway.fakes import SERVICES, network, running_gateway

VOID_ELEMENTS = frozenset({"meta", "link", "br", "hr", "img", "input", "source", "wbr"})


class PageOutline(HTMLParser):
    """Just enough of an HTML5 checker: elements nest and close properly, and what an
    accessible page needs (doctype, language, title, one main landmark) is there."""

    def __init__(self) -> None:
        super().__init__()
        self.doctype: str | None = None
        self.open: list[str] = []
        self.problems: list[str] = []
        self.counts: dict[str, int] = {}
        self.lang: str | None = None
        self.title = ""
        self.links: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        if tag == "a":
            assert attributes.get("href"), "a link without a target"
            self.links.append(str(attributes["href"]))
        if tag not in VOID_ELEMENTS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> does not close {self.open[-1:] or 'anything'}")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] == "title":
            self.title += data


def outline_of(response: httpx.Response) -> PageOutline:
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    outline = PageOutline()
    outline.feed(response.text)
    outline.close()
    assert outline.doctype is not None
    assert outline.doctype.lower() == "doctype html"
    assert outline.problems == []
    assert outline.open == []
    assert outline.lang == "en"
    assert outline.title.strip()
    assert outline.counts.get("main") == 1
    assert outline.counts.get("h1") == 1
    assert outline.counts.get("script", 0) == 0
    return outline


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


class TestHomePage:
    async def test_is_an_accessible_page_about_tawny(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get("/")

        outline = outline_of(response)
        assert "London-wide community crime-alert platform" in " ".join(response.text.split())
        assert {"/api-docs", "/healthz", "/readyz"} <= set(outline.links)
        assert_security_headers(response)


class TestApiDocsPage:
    async def test_links_each_services_openapi_and_swagger_ui_through_the_gateway(
        self,
    ) -> None:
        async with running_gateway(network()) as client:
            response = await client.get("/api-docs")

        outline = outline_of(response)
        for service in SERVICES:
            assert f"/api/{service}/openapi.json" in outline.links
            assert f"/api/{service}/docs" in outline.links
        assert_security_headers(response)

    async def test_its_links_reach_the_services(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get("/api/geo/openapi.json")

        assert response.status_code == 200
        assert response.json()["info"]["title"] == "fake geo"
