"""Build a geo database of N synthetic subscribers and time audience resolution on it.

Subscribers stand at real London postcodes (OS Code-Point Open, ../shared/data/london), drawn
uniformly from the postcodes, so wards fill in proportion to their postcode counts. Each has
a home ward (the postcode's own ward code); 30 % also watch that ward and its neighbours, 20 %
a 1 km circle round the postcode.

Every index row is computed by the service's own code (services.geo.subscriptions.indexing)
and loaded with COPY; the secondary indexes and foreign keys are built after the load (as a
bulk import would), which is the "index build" time. Every timed resolution calls
services.geo.audience.service.AudienceService.resolve, which the geo.audience consumer runs;
the fan-out (staging the batches in the outbox) is timed once per case on top, in a
rolled-back transaction. The naive baseline fetches every watched area, builds its geometry
and tests it with shapely (vectorised) against the same circle.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import functools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import shapely
from shapely.ops import unary_union

from deploy.infra import create_databases, database_url_for, embedded_postgres
from services.geo.audience.service import AudienceService, Target
from services.geo.boundaries.importer import import_files, read_feature_collection
from services.geo.boundaries.service import BoundaryService
from services.geo.subscriptions.indexing import WatchedArea, cell_rows_of, ward_codes_of
from services.geo.targeting.shapes import Circle, TargetShapes
from services.geo.targeting.wardmap import WardMap
from shared import migrations
from shared.db import build_engine, build_sessionmaker
from shared.events import AlertContent, AlertPublished, TargetCircle
from shared.logs import configure_logging

REPO = Path(__file__).resolve().parents[2]
LONDON = REPO.parent / "shared" / "data" / "london"
DEFAULT_OUTPUT = REPO / "bench" / "results" / "geo.json"

WARD_CASE = "E05013806"  # St James's, Westminster
BOROUGH_CASE = "E09000033"  # Westminster
CIRCLE_CASE = Circle(51.5138, -0.0984, 500)  # St Paul's Cathedral, City of London
NEIGHBOURS_SHARE = 0.30
CIRCLE_SHARE = 0.20
CIRCLE_RADIUS_M = 1000.0
SEED = 20261123

TARGETS = {"ward": 50.0, "borough": 300.0, "circle_500m": 100.0, "london": 3000.0}
LONDON_FANOUT_TARGET_S = 10.0
PREVIEW_TARGET_MS = 100.0
SPEEDUP_TARGET = 20.0

# Built after the load: (name, create statement, drop statement).
SECONDARY = (
    (
        "ix_watched_wards_ward_code_member_no",
        "CREATE INDEX ix_watched_wards_ward_code_member_no ON watched_wards "
        "(ward_code, member_no) INCLUDE (by_geometry, min_severity, categories_mask)",
        "DROP INDEX ix_watched_wards_ward_code_member_no",
    ),
    (
        "ix_area_cells_key_res",
        "CREATE INDEX ix_area_cells_key_res ON area_cells (key, res) INCLUDE (interior, "
        "subscription_id, member_no, min_severity, categories_mask, center_lat, center_lon, "
        "radius_m)",
        "DROP INDEX ix_area_cells_key_res",
    ),
    (
        "ix_subscriptions_member_id",
        "CREATE INDEX ix_subscriptions_member_id ON subscriptions (member_id)",
        "DROP INDEX ix_subscriptions_member_id",
    ),
    (
        "fk_watched_wards_subscription_id_subscriptions",
        "ALTER TABLE watched_wards ADD CONSTRAINT fk_watched_wards_subscription_id_subscriptions "
        "FOREIGN KEY (subscription_id) REFERENCES subscriptions (id) ON DELETE CASCADE",
        "ALTER TABLE watched_wards DROP CONSTRAINT fk_watched_wards_subscription_id_subscriptions",
    ),
    (
        "fk_area_cells_subscription_id_subscriptions",
        "ALTER TABLE area_cells ADD CONSTRAINT fk_area_cells_subscription_id_subscriptions "
        "FOREIGN KEY (subscription_id) REFERENCES subscriptions (id) ON DELETE CASCADE",
        "ALTER TABLE area_cells DROP CONSTRAINT fk_area_cells_subscription_id_subscriptions",
    ),
)


def say(message: str) -> None:
    print(f"[bench-geo {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Postcodes:
    lat: np.ndarray
    lon: np.ndarray
    ward: np.ndarray


def read_postcodes(path: Path) -> Postcodes:
    lats, lons, wards = [], [], []
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            lats.append(float(row["lat"]))
            lons.append(float(row["lon"]))
            wards.append(row["ward_code"])
    return Postcodes(np.array(lats), np.array(lons), np.array(wards))


# --- index rows for circles, in worker processes (the CPU-heavy part) -------------------------

_WORKER_MAP: WardMap | None = None


def _init_worker(wards_path: str) -> None:
    global _WORKER_MAP
    features = read_feature_collection(Path(wards_path)).features
    _WORKER_MAP = WardMap.from_rows(
        uuid.UUID(int=0),
        [
            (
                str((f.properties or {})["code"]),
                str((f.properties or {})["name"]),
                str((f.properties or {})["borough_code"]),
                f.geometry or {},
            )
            for f in features
        ],
        [],
    )


def _circle_rows(
    chunk: list[tuple[float, float]],
) -> list[tuple[list[str], list[tuple[int, int, bool]]]]:
    assert _WORKER_MAP is not None
    out = []
    for lat, lon in chunk:
        area = WatchedArea("circle", circle=Circle(lat, lon, CIRCLE_RADIUS_M))
        out.append((ward_codes_of(area, _WORKER_MAP), cell_rows_of(area)))
    return out


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the run ------------------------------------------------------------------------------------


async def build(
    url: str, subscribers: int, postcodes: Postcodes, ward_map: WardMap
) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    picks = rng.integers(0, len(postcodes.lat), size=subscribers)
    neighbours = rng.random(subscribers) < NEIGHBOURS_SHARE
    circles = rng.random(subscribers) < CIRCLE_SHARE
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for _, _, drop in SECONDARY:
            await connection.execute(drop)
        say(f"generating {subscribers:,} subscribers")
        started = time.perf_counter()
        subscriptions: list[tuple[Any, ...]] = []
        watched: list[tuple[Any, ...]] = []
        cells: list[tuple[Any, ...]] = []
        numbers: list[tuple[int, uuid.UUID]] = []
        circle_jobs: list[tuple[uuid.UUID, uuid.UUID, int, float, float]] = []
        now = datetime.now(UTC)
        random_bytes = os.urandom
        for index in range(subscribers):
            member = uuid.UUID(bytes=random_bytes(16))
            number = index + 1
            numbers.append((number, member))
            pick = picks[index]
            ward = str(postcodes.ward[pick])
            home = uuid.UUID(bytes=random_bytes(16))
            subscriptions.append((home, member, "home", ward, None, None, None, 1, now))
            watched.append((home, ward, member, number, False, 1, None))
            if neighbours[index]:
                sid = uuid.UUID(bytes=random_bytes(16))
                subscriptions.append((sid, member, "neighbours", ward, None, None, None, 1, now))
                area = WatchedArea("neighbours", ward_code=ward)
                watched.extend(
                    (sid, code, member, number, False, 1, None)
                    for code in ward_codes_of(area, ward_map)
                )
            if circles[index]:
                sid = uuid.UUID(bytes=random_bytes(16))
                lat, lon = float(postcodes.lat[pick]), float(postcodes.lon[pick])
                subscriptions.append(
                    (sid, member, "circle", None, lat, lon, CIRCLE_RADIUS_M, 1, now)
                )
                circle_jobs.append((sid, member, number, lat, lon))
            if index and index % 200_000 == 0:
                say(f"  {index:,} subscribers")
        generate_s = time.perf_counter() - started
        say(
            f"computing H3 covers and wards of {len(circle_jobs):,} circles "
            f"on {os.cpu_count()} cores"
        )
        started = time.perf_counter()
        wards_path = str(LONDON / "wards.geojson")
        with ProcessPoolExecutor(
            max_workers=os.cpu_count() or 2, initializer=_init_worker, initargs=(wards_path,)
        ) as pool:
            jobs = [
                [(lat, lon) for _, _, _, lat, lon in chunk] for chunk in _chunks(circle_jobs, 5000)
            ]
            done = 0
            for chunk, results in zip(
                _chunks(circle_jobs, 5000), pool.map(_circle_rows, jobs), strict=True
            ):
                for (sid, member, number, lat, lon), (codes, cell_rows) in zip(
                    chunk, results, strict=True
                ):
                    watched.extend((sid, code, member, number, True, 1, None) for code in codes)
                    cells.extend(
                        (
                            sid,
                            key,
                            res,
                            interior,
                            member,
                            number,
                            1,
                            None,
                            lat,
                            lon,
                            CIRCLE_RADIUS_M,
                        )
                        for key, res, interior in cell_rows
                    )
                done += len(chunk)
                if done % 50_000 < 5000:
                    say(f"  {done:,} circles")
        covers_s = time.perf_counter() - started
        say(
            f"COPY {len(subscriptions):,} subscriptions, {len(watched):,} ward rows, "
            f"{len(cells):,} cell rows"
        )
        started = time.perf_counter()
        await connection.copy_records_to_table(
            "member_numbers", records=numbers, columns=["member_no", "member_id"]
        )
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('member_numbers', 'member_no'), $1)",
            len(numbers),
        )
        await connection.copy_records_to_table(
            "subscriptions",
            records=subscriptions,
            columns=[
                "id",
                "member_id",
                "kind",
                "ward_code",
                "center_lat",
                "center_lon",
                "radius_m",
                "min_severity",
                "created_at",
            ],
        )
        await connection.copy_records_to_table(
            "watched_wards",
            records=watched,
            columns=[
                "subscription_id",
                "ward_code",
                "member_id",
                "member_no",
                "by_geometry",
                "min_severity",
                "categories_mask",
            ],
        )
        await connection.copy_records_to_table(
            "area_cells",
            records=cells,
            columns=[
                "subscription_id",
                "key",
                "res",
                "interior",
                "member_id",
                "member_no",
                "min_severity",
                "categories_mask",
                "center_lat",
                "center_lon",
                "radius_m",
            ],
        )
        copy_s = time.perf_counter() - started
        say("building indexes and foreign keys")
        started = time.perf_counter()
        for name, create, _ in SECONDARY:
            step = time.perf_counter()
            await connection.execute(create)
            say(f"  {name}: {time.perf_counter() - step:.1f} s")
        indexes_s = time.perf_counter() - started
        started = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")
        vacuum_s = time.perf_counter() - started
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
        tables = {
            row["relname"]: round(row["bytes"] / 1e6, 1)
            for row in await connection.fetch(
                "SELECT relname, pg_total_relation_size(oid) AS bytes FROM pg_class "
                "WHERE relname IN ('subscriptions', 'watched_wards', 'area_cells')"
            )
        }
    finally:
        await connection.close()
    return {
        "subscriptions": len(subscriptions),
        "watched_ward_rows": len(watched),
        "area_cell_rows": len(cells),
        "generate_s": round(generate_s, 1),
        "covers_s": round(covers_s, 1),
        "copy_s": round(copy_s, 1),
        "indexes_s": round(indexes_s, 1),
        "vacuum_analyze_s": round(vacuum_s, 1),
        "index_build_s": round(covers_s + indexes_s, 1),
        "db_size_mb": round(size / 1e6, 1),
        "table_mb": tables,
    }


async def timed(repeats: int, action: Callable[[], Awaitable[Any]]) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = await action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 2)


def alert(target: Target) -> AlertPublished:
    return AlertPublished(
        content=AlertContent(
            alert_id=uuid.uuid4(),
            headline="Benchmark",
            body="Benchmark",
            category="burglary",
            severity="Moderate",
            urgency="Expected",
            sender_name="bench",
            sent_at=datetime.now(UTC),
        ),
        target_ward_codes=list(target.ward_codes),
        target_borough_codes=list(target.borough_codes),
        target_circles=[
            TargetCircle(lat=c.lat, lon=c.lon, radius_m=c.radius_m) for c in target.shapes.circles
        ],
    )


async def measure(url: str, ward_map_path: Path, repeats: int) -> dict[str, Any]:
    engine = build_engine(url, application_name="bench-geo", pool_size=2)
    sessions = build_sessionmaker(engine)
    results: dict[str, Any] = {"cases": {}}
    try:
        async with sessions() as session:
            ward_map = await BoundaryService(session).current_ward_map()
            audiences = AudienceService(session)
            all_boroughs = tuple(b.code for b in ward_map.boroughs)
            cases = {
                "ward": (Target(ward_codes=(WARD_CASE,)), repeats),
                "borough": (Target(borough_codes=(BOROUGH_CASE,)), repeats),
                "circle_500m": (
                    Target(shapes=TargetShapes(circles=[CIRCLE_CASE])),
                    repeats,
                ),
                "london": (Target(borough_codes=all_boroughs), max(3, repeats // 4)),
            }
            rank, bit = 2, 1  # Moderate burglary: every synthetic subscription passes
            for name, (target, n) in cases.items():
                await audiences.resolve(target, rank=rank, bit=bit)  # warm caches
                samples, resolution = await timed(
                    n, functools.partial(audiences.resolve, target, rank=rank, bit=bit)
                )
                fanout_started = time.perf_counter()
                fanned = await audiences.fan_out(uuid.uuid4(), alert(target), batch_size=500)
                fanout_ms = (time.perf_counter() - fanout_started) * 1000
                await session.rollback()
                audience_row = fanned.audience
                results["cases"][name] = {
                    "p50_ms": p(samples, 0.5),
                    "p95_ms": p(samples, 0.95),
                    "recipients": resolution.count,
                    "runs": n,
                    "target_ms": TARGETS[name],
                    "fanout_ms": round(fanout_ms, 1),
                    "fanout_batches": audience_row.batch_count,
                    "steps_ms": resolution.timings_ms,
                    "fanout_steps_ms": fanned.timings_ms,
                }
                if name == "london":
                    results["london_fanout_s"] = {
                        "total": round(fanout_ms / 1000, 2),
                        "steps": _fanout_steps_s(fanned.timings_ms),
                    }
                say(
                    f"{name}: p50 {p(samples, 0.5):.1f} ms, p95 {p(samples, 0.95):.1f} ms, "
                    f"{resolution.count:,} recipients; full fan-out into "
                    f"{audience_row.batch_count} batches {fanout_ms:.0f} ms"
                )
            results["explain_circle_cell_path"] = await explain_cell_path(session, CIRCLE_CASE)
            preview_samples: list[float] = []
            preview_cases: dict[str, float] = {}
            for name in ("ward", "borough", "circle_500m"):
                target = cases[name][0]
                samples, _ = await timed(
                    repeats,
                    functools.partial(
                        audiences.preview, target, category="burglary", severity="Moderate"
                    ),
                )
                preview_samples.extend(samples)
                preview_cases[name] = p(samples, 0.95)
            results["preview_p95_ms"] = p(preview_samples, 0.95)
            results["preview_p95_ms_by_case"] = preview_cases
            say(f"preview p95 {results['preview_p95_ms']:.1f} ms ({preview_cases})")
            say("naive baseline: every watched area tested with shapely against the 500 m circle")
            naive_samples = []
            naive_count = 0
            for _ in range(2):
                started = time.perf_counter()
                naive_count = await naive_circle(session, ward_map, CIRCLE_CASE)
                naive_samples.append((time.perf_counter() - started) * 1000)
            results["naive_circle_ms"] = round(statistics.median(naive_samples), 1)
            results["naive_circle_recipients"] = naive_count
            results["exact_circle"] = naive_count == results["cases"]["circle_500m"]["recipients"]
            results["speedup_circle"] = round(
                results["naive_circle_ms"] / results["cases"]["circle_500m"]["p50_ms"], 1
            )
            say(f"naive: {results['naive_circle_ms']:.0f} ms, {naive_count:,} recipients")
    finally:
        await engine.dispose()
    return results


# The fan-out's own steps (resolution's are inside "resolution"), in seconds.
FANOUT_STEPS = (
    "resolution",
    "recipient_set_write",
    "batch_staging",
    "audience_record",
)


def _fanout_steps_s(timings_ms: dict[str, float]) -> dict[str, float]:
    steps = {name: round(timings_ms.get(name, 0.0) / 1000, 3) for name in FANOUT_STEPS}
    steps["of_which_resolution"] = {  # type: ignore[assignment]
        name: round(ms / 1000, 3) for name, ms in timings_ms.items() if name not in FANOUT_STEPS
    }
    return steps


async def explain_cell_path(session: Any, circle: Circle) -> list[str]:
    """The plan of the cell query for the circle case, for whoever tunes it next."""
    from sqlalchemy import text

    from services.geo.audience.repository import _CELL_PATH
    from services.geo.targeting.cells import TargetCells, circle_cover

    cells = TargetCells.of([circle_cover(circle)])
    rows = await session.execute(
        text("EXPLAIN (ANALYZE, BUFFERS) " + _CELL_PATH.text),
        {
            "first": cells.range_first,
            "last": cells.range_last,
            "interior": cells.range_interior,
            "a_key": cells.ancestor_key,
            "a_res": cells.ancestor_res,
            "a_interior": cells.ancestor_interior,
            "rank": 2,
            "category_bit": 1,
        },
    )
    return [row[0] for row in rows]


async def naive_circle(session: Any, ward_map: WardMap, circle: Circle) -> int:
    from sqlalchemy import text

    rows = (
        await session.execute(
            text(
                "SELECT member_id, kind, ward_code, center_lat, center_lon, radius_m "
                "FROM subscriptions"
            )
        )
    ).all()
    # Exact, as the service defines a circle: distances in the target circle's local metric
    # projection. Circles against circles by their centres; ward shapes by shapely.
    projection = circle.projection()
    ward_geometry = {w.code: projection.to_metres(w.geometry) for w in ward_map.wards}
    neighbourhood: dict[str, Any] = {}
    circle_rows = [row for row in rows if row.kind == "circle"]
    ward_rows = [row for row in rows if row.kind != "circle"]
    xy = projection.xy([r.center_lon for r in circle_rows], [r.center_lat for r in circle_rows])
    radii = np.array([r.radius_m for r in circle_rows])
    circle_hits = np.hypot(xy[:, 0], xy[:, 1]) <= radii + circle.radius_m
    geometries = []
    for row in ward_rows:
        if row.kind == "neighbours":
            if row.ward_code not in neighbourhood:
                codes = [row.ward_code, *ward_map.neighbours.get(row.ward_code, [])]
                neighbourhood[row.ward_code] = unary_union([ward_geometry[c] for c in codes])
            geometries.append(neighbourhood[row.ward_code])
        else:
            geometries.append(ward_geometry[row.ward_code])
    ward_hits = shapely.dwithin(
        np.asarray(geometries, dtype=object), shapely.Point(0, 0), circle.radius_m
    )
    return len(
        {row.member_id for row, hit in zip(circle_rows, circle_hits, strict=True) if hit}
        | {row.member_id for row, hit in zip(ward_rows, ward_hits, strict=True) if hit}
    )


def table(results: dict[str, Any]) -> str:
    lines = [
        "| case | p50 ms | p95 ms | target ms | recipients | met |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, case in results["cases"].items():
        met = "yes" if case["p95_ms"] <= case["target_ms"] else "**no**"
        lines.append(
            f"| {name} | {case['p50_ms']:.1f} | {case['p95_ms']:.1f} | "
            f"{case['target_ms']:.0f} | {case['recipients']:,} | {met} |"
        )
    preview_met = "yes" if results["preview_p95_ms"] <= PREVIEW_TARGET_MS else "**no**"
    speed_met = "yes" if results["speedup_circle"] >= SPEEDUP_TARGET else "**no**"
    fanout_met = results["london_fanout_s"]["total"] <= LONDON_FANOUT_TARGET_S
    lines += [
        "",
        "| measure | value | target | met |",
        "|---|---:|---:|---|",
        f"| audience preview p95 (ward, borough, circle) | {results['preview_p95_ms']:.1f} ms "
        f"| ≤ {PREVIEW_TARGET_MS:.0f} ms | {preview_met} |",
        f"| London fan-out (resolve, store the set, stage every batch) "
        f"| {results['london_fanout_s']['total']:.1f} s | ≤ {LONDON_FANOUT_TARGET_S:.0f} s "
        f"| {'yes' if fanout_met else '**no**'} |",
        f"| naive baseline, 500 m circle | {results['naive_circle_ms']:.0f} ms "
        f"({results['naive_circle_recipients']:,} recipients; exact: "
        f"{'yes' if results['exact_circle'] else '**no**'}) | | |",
        f"| speed-up over naive (circle, p50) | {results['speedup_circle']:.0f} x "
        f"| ≥ {SPEEDUP_TARGET:.0f} x | {speed_met} |",
        "| index build (H3 covers and ward sets of circles, B-tree indexes, FKs) "
        f"| {results['index_build_s']:.1f} s | | |",
        f"| database size | {results['db_size_mb']:.0f} MB | | |",
    ]
    return "\n".join(lines)


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def run_summary(measured: dict[str, Any], load_before: list[float]) -> dict[str, Any]:
    """One measuring run in brief, with the machine's load around it."""
    return {
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "p95_ms": {name: case["p95_ms"] for name, case in measured["cases"].items()},
        "p50_ms": {name: case["p50_ms"] for name, case in measured["cases"].items()},
        "preview_p95_ms": measured["preview_p95_ms"],
        "preview_p95_ms_by_case": measured["preview_p95_ms_by_case"],
        "london_fanout_s": measured["london_fanout_s"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.geo", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per case")
    parser.add_argument(
        "--runs", type=int, default=2, help="measuring runs on the one database (default 2)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the database here; a later run with the same directory reuses it (and its "
        "build figures) instead of building again",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    configure_logging("bench-geo", "WARNING", json=False)
    if not (LONDON / "postcodes.csv").is_file():
        say(f"the London data is not at {LONDON}")
        return 1
    total = time.perf_counter()
    with contextlib.ExitStack() as stack:
        data_dir = args.data_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="tawny-bench-geo-"))
        )
        build_record = data_dir / "build.json"
        reuse = build_record.is_file()
        postgres = stack.enter_context(embedded_postgres(data_dir / "pg", durable=False))
        url = database_url_for(postgres.url, "bench_geo")
        if reuse:
            built_at = json.loads(build_record.read_text())["built_at"]
            say(f"reusing the database in {data_dir} (built {built_at})")
        else:
            create_databases(postgres.url, ["bench_geo"])
            migrations.upgrade("geo", url)
            say("importing the London boundaries")
            asyncio.run(
                import_files(
                    url,
                    LONDON / "wards.geojson",
                    LONDON / "boroughs.geojson",
                    name="ONS wards December 2023",
                )
            )
        postcodes = read_postcodes(LONDON / "postcodes.csv")
        say(f"{len(postcodes.lat):,} postcodes read")

        async def build_and_measure() -> dict[str, Any]:
            if reuse:
                built = json.loads(build_record.read_text())
            else:
                engine = build_engine(url, application_name="bench-geo", pool_size=1)
                async with build_sessionmaker(engine)() as session:
                    ward_map = await BoundaryService(session).current_ward_map()
                await engine.dispose()
                built = await build(url, args.subscribers, postcodes, ward_map)
                built["built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
                built["build_load_average"] = load_average()
                build_record.write_text(json.dumps(built, indent=2))
            runs = []
            measured: dict[str, Any] = {}
            for number in range(1, args.runs + 1):
                say(f"measuring run {number} of {args.runs} (load average {load_average()})")
                before = load_average()
                this_run = await measure(url, LONDON / "wards.geojson", args.repeats)
                runs.append(run_summary(this_run, before))
                measured = measured or this_run
            return {**built, **measured, "runs": runs}

        results = asyncio.run(build_and_measure())
    results = {
        "subscribers": args.subscribers,
        "cases": results.pop("cases"),
        "preview_p95_ms": results.pop("preview_p95_ms"),
        "naive_circle_ms": results.pop("naive_circle_ms"),
        "speedup_circle": results.pop("speedup_circle"),
        "index_build_s": results.pop("index_build_s"),
        "db_size_mb": results.pop("db_size_mb"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}"
        ),
        "date": datetime.now(UTC).date().isoformat(),
        **results,
        "total_s": round(time.perf_counter() - total, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    print(f"\nwritten to {args.output}; whole run {results['total_s']:.0f} s")
    return 0
