"""Cursor pagination of the alerts lists (shared/pagination.py): pages that neither skip nor
repeat an alert written meanwhile, the next page named in Link and Next-Cursor; offset still
works; a foreign cursor is a 400."""

from __future__ import annotations

import uuid

import httpx

from tests.alerts.helpers import create_alert, officer_headers


async def _write(client: httpx.AsyncClient, author: uuid.UUID, count: int) -> list[str]:
    headers = officer_headers(author)
    return [(await create_alert(client, headers))["id"] for _ in range(count)]


class TestCursorPages:
    async def test_pages_cover_every_alert_once_even_when_more_arrive(
        self, client: httpx.AsyncClient
    ) -> None:
        author = uuid.uuid4()
        headers = officer_headers(author)
        written = await _write(client, author, 5)
        seen: list[str] = []

        first = await client.get(
            "/alerts", params={"author_id": str(author), "limit": 2}, headers=headers
        )
        seen += [a["id"] for a in first.json()]
        # Written after the first page: offsets would now repeat an alert.
        await _write(client, author, 1)
        url: str | None = first.links["next"]["url"]
        while url:
            # The link is relative to the page it came with.
            page = await client.get(first.url.join(url), headers=headers)
            assert page.status_code == 200, page.text
            seen += [a["id"] for a in page.json()]
            url = page.links.get("next", {}).get("url")

        assert sorted(seen) == sorted(written)
        assert first.headers["next-cursor"] in first.headers["link"]

    async def test_offset_still_pages_as_before(self, client: httpx.AsyncClient) -> None:
        author = uuid.uuid4()
        headers = officer_headers(author)
        written = await _write(client, author, 3)

        pages = [
            await client.get(
                "/alerts",
                params={"author_id": str(author), "limit": 2, "offset": offset},
                headers=headers,
            )
            for offset in (0, 2)
        ]

        assert [a["id"] for p in pages for a in p.json()] == written[::-1]

    async def test_a_cursor_not_given_by_the_list_or_beside_an_offset_is_400(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = officer_headers()
        page = await client.get("/alerts", params={"limit": 1}, headers=headers)
        cursor = page.headers["next-cursor"]

        forged = await client.get("/alerts", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=headers)
        both = await client.get("/alerts", params={"cursor": cursor, "offset": 1}, headers=headers)

        assert forged.status_code == 400
        assert forged.json()["type"].endswith("/invalid-cursor")
        assert both.status_code == 400
