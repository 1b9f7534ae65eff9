"""The dashboard over HTTP: the public's suppressed figures, an officer's exact ones for their
own borough, the open data as JSON and CSV with cache validators, and geo's members-watching
counts (``watchers.counted`` through Kafka) in both."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from services.alerts.dashboard.service import LONDON_CODE, LONDON_TIME
from shared.db import utcnow
from shared.events import AreaWatchers, EventEnvelope, WatchersCounted
from tests.alerts.helpers import create_alert, unique_borough_code, ward_of
from tests.support.tokens import auth_header
from tests.support.waiting import eventually


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


class TestMovingAnAlert:
    async def test_an_update_and_an_officers_correction_move_it_to_its_new_crime_type(
        self, client: httpx.AsyncClient
    ) -> None:
        borough = unique_borough_code()
        headers = borough_officer(borough)
        alert = await create_alert(
            client, headers, target_ward_codes=[], target_borough_codes=[borough]
        )
        published = await client.post(f"/alerts/{alert['id']}/publish", headers=headers)
        assert published.status_code == 200, published.text

        async def counted() -> dict[str, dict[str, Any]]:
            answer = await client.get(
                "/dashboard/figures",
                params={"from": this_month(), "area_kind": "borough", "area_code": borough},
                headers=headers,
            )
            return {row["crime_type"]: row for row in answer.json()["rows"] if row["alerts"]}

        assert set(await counted()) == {alert["crime_type"], "all"}
        update = await client.post(
            f"/alerts/{alert['id']}/updates",
            json={
                "crime_type": "robbery",
                "severity": "Severe",
                "no_victim_details_confirmed": True,
            },
            headers=headers,
        )
        assert update.status_code in (200, 201), update.text
        assert (update.json()["crime_type"], update.json()["event"]) == ("robbery", "Robbery")
        moved = await counted()
        assert set(moved) == {"robbery", "all"}
        assert (moved["robbery"]["alerts"], moved["robbery"]["severity_severe"]) == (1, 1)
        assert moved["all"]["alerts"] == 1

        corrected = await client.put(
            f"/alerts/{alert['id']}/crime-type",
            json={"crime_type": "criminal_damage"},
            headers=headers,
        )
        assert corrected.status_code == 200, corrected.text
        assert set(await counted()) == {"criminal_damage", "all"}


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


async def report_watchers(
    producer: AIOKafkaProducer, counted_at: datetime, counts: dict[str, int]
) -> None:
    """Geo's report, through Kafka: each test borough (E099...) and ward (B...) counted."""
    report = WatchersCounted(
        counted_at=counted_at,
        areas=[
            AreaWatchers(
                area_kind="london", area_code=LONDON_CODE, borough_code=None, members_watching=0
            ),
            *(
                AreaWatchers(
                    area_kind="borough" if code.startswith("E") else "ward",
                    area_code=code,
                    borough_code=code if code.startswith("E") else "E099" + code[-5:],
                    members_watching=n,
                )
                for code, n in counts.items()
            ),
        ],
    )
    envelope = EventEnvelope.wrap(report, producer="geo")
    await producer.send_and_wait(
        report.topic.value,
        envelope.model_dump_json().encode(),
        key=report.partition_key().encode(),
    )


class TestMembersWatching:
    async def test_geos_latest_count_of_the_month_is_in_the_open_data_and_figures(
        self, client: httpx.AsyncClient, producer: AIOKafkaProducer
    ) -> None:
        alerted, quiet, last = (unique_borough_code() for _ in range(3))
        await marked_alert(client, alerted, useful=10, not_useful=0)
        month = this_month()
        now = utcnow()
        await report_watchers(producer, now, {alerted: 25, quiet: 12, ward_of(quiet): 3})
        # A late, older count of the same month changes nothing.
        await report_watchers(
            producer, now - timedelta(microseconds=1), {alerted: 99, quiet: 99, ward_of(quiet): 99}
        )
        # One key, one partition, in order: once this one is kept, so is what came before.
        await report_watchers(producer, now + timedelta(microseconds=1), {last: 10})

        async def counted() -> dict[tuple[str, str], dict[str, Any]] | None:
            document = await client.get(f"/dashboard/open-data/{month}.json")
            rows = {
                (r["area_code"], r["crime_type"]): r
                for r in document.json()["rows"]
                if r["area_code"] in (alerted, quiet, ward_of(quiet), last)
            }
            return rows if (last, "all") in rows else None

        rows = await eventually(counted)
        assert rows[(alerted, "all")]["members_watching"] == 25
        assert rows[(alerted, "burglary")]["members_watching"] is None
        assert "members_watching" not in rows[(alerted, "burglary")]["suppressed"]
        # Nobody alerted there this month: an all row of zeros with its members watching.
        assert (rows[(quiet, "all")]["alerts"], rows[(quiet, "all")]["members_watching"]) == (0, 12)
        small = rows[(ward_of(quiet), "all")]
        assert small["members_watching"] is None
        assert "members_watching" in small["suppressed"]

        index = (await client.get("/dashboard/open-data")).json()
        assert "members_watching" in index["columns"]
        table = await client.get(f"/dashboard/open-data/{month}.csv")
        reader = csv.DictReader(io.StringIO(table.text))
        assert reader.fieldnames == list(index["columns"])
        lines = {(r["area_code"], r["crime_type"]): r for r in reader}
        assert lines[(alerted, "all")]["members_watching"] == "25"
        assert lines[(alerted, "burglary")]["members_watching"] == ""
        assert lines[(ward_of(quiet), "all")]["members_watching"] == "fewer than 10"

        # The borough's officer sees its ward's count exactly, as the other counts.
        own = await client.get(
            "/dashboard/figures",
            params={"from": month, "area_kind": "ward", "borough": quiet},
            headers=borough_officer(quiet),
        )
        [ward_row] = own.json()["rows"]
        assert (ward_row["members_watching"], ward_row["suppressed"]) == (3, [])
