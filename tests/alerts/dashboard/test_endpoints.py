"""The dashboard over HTTP: the public's suppressed figures, an officer's exact ones for their
own borough, and the open data as JSON and CSV with cache validators."""

from __future__ import annotations

import csv
import io
import uuid

import httpx

from services.alerts.dashboard.service import LONDON_TIME
from shared.db import utcnow
from tests.alerts.helpers import create_alert, unique_borough_code
from tests.support.tokens import auth_header


def borough_officer(borough: str) -> dict[str, str]:
    return auth_header(
        roles=["officer"], member_id=uuid.uuid4(), pseudonym="PC Owl", area_boroughs=[borough]
    )


def resident() -> dict[str, str]:
    return auth_header(
        roles=["resident"], member_id=uuid.uuid4(), pseudonym="Neighbour", vl="address"
    )


async def marked_alert(
    client: httpx.AsyncClient, borough: str, *, useful: int, not_useful: int
) -> None:
    headers = borough_officer(borough)
    alert = await create_alert(
        client, headers, target_ward_codes=[], target_borough_codes=[borough]
    )
    published = await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
    assert published.status_code == 200, published.text
    for n in range(useful + not_useful):
        response = await client.put(
            f"/alerts/{alert['id']}/usefulness", json={"useful": n < useful}, headers=resident()
        )
        assert response.status_code in (200, 204), response.text


def this_month() -> str:
    return utcnow().astimezone(LONDON_TIME).strftime("%Y-%m")


class TestFigures:
    async def test_the_public_see_small_counts_suppressed_and_the_boroughs_officer_sees_them(
        self, client: httpx.AsyncClient
    ) -> None:
        borough = unique_borough_code()
        await marked_alert(client, borough, useful=12, not_useful=3)
        query = {
            "from": this_month(),
            "area_kind": "borough",
            "area_code": borough,
            "crime_type": "all",
        }

        public = await client.get("/dashboard/figures", params=query)
        [row] = public.json()["rows"]
        assert (row["alerts"], row["marked_useful"], row["marked_not_useful"]) == (None, 12, None)
        assert {"alerts", "marked_not_useful"} <= set(row["suppressed"])
        assert public.json()["exact_for"] == "nobody"
        assert public.headers["cache-control"].startswith("public")

        again = await client.get(
            "/dashboard/figures", params=query, headers={"If-None-Match": public.headers["etag"]}
        )
        assert again.status_code == 304

        own = await client.get("/dashboard/figures", params=query, headers=borough_officer(borough))
        [exact] = own.json()["rows"]
        assert (exact["alerts"], exact["marked_not_useful"], exact["suppressed"]) == (1, 3, [])
        assert own.headers["cache-control"] == "private, no-store"

        other = await client.get(
            "/dashboard/figures", params=query, headers=borough_officer(unique_borough_code())
        )
        assert other.json()["rows"][0]["alerts"] is None

    async def test_bad_months_are_refused_as_problems(self, client: httpx.AsyncClient) -> None:
        for params in (
            {"from": "2026-13"},
            {"from": "2026-05", "to": "2026-04"},
            {"from": "2020-01", "to": "2026-01"},
        ):
            response = await client.get("/dashboard/figures", params=params)
            assert response.status_code == 422, params
            assert response.headers["content-type"].startswith("application/problem+json")


class TestOpenData:
    async def test_a_month_as_json_and_csv_with_documented_columns(
        self, client: httpx.AsyncClient
    ) -> None:
        borough = unique_borough_code()
        await marked_alert(client, borough, useful=10, not_useful=1)
        month = this_month()

        index = (await client.get("/dashboard/open-data")).json()
        assert month in [m["month"] for m in index["months"]]
        assert index["suppressed_as"] == "fewer than 10"

        document = await client.get(f"/dashboard/open-data/{month}.json")
        assert document.headers["cache-control"].startswith("public")
        rows = [r for r in document.json()["rows"] if r["area_code"] == borough]
        assert {r["crime_type"] for r in rows} == {"burglary", "all"}
        [row] = [r for r in rows if r["crime_type"] == "all"]
        assert (row["marked_useful"], row["marked_not_useful"]) == (10, None)

        table = await client.get(f"/dashboard/open-data/{month}.csv")
        assert table.headers["content-type"].startswith("text/csv")
        reader = csv.DictReader(io.StringIO(table.text))
        assert reader.fieldnames == list(index["columns"])
        [line] = [r for r in reader if r["area_code"] == borough and r["crime_type"] == "all"]
        assert (line["marked_useful"], line["marked_not_useful"]) == ("10", "fewer than 10")
        assert line["alerts"] == "fewer than 10"

        unchanged = await client.get(
            f"/dashboard/open-data/{month}.csv", headers={"If-None-Match": table.headers["etag"]}
        )
        assert unchanged.status_code == 304
        assert (await client.get("/dashboard/open-data/2026-1.csv")).status_code == 422
