"""Fan-out staging benchmark: an all-London alert's recipient batches into geo's outbox.

    python -m bench.fanout            # make bench-fanout; about a minute

Stages the same RecipientBatch events (2,000 batches of 500 members: a 1,000,000-member
audience) in geo's outbox table on embedded PostgreSQL, three ways, alternating runs so all see
the same machine: one ``add_event`` per batch (an ORM add and a flush each: how geo staged them
first), ``add_events`` (multi-row INSERTs, ``OUTBOX_INSERT_BATCHES`` batches at a time: how geo
staged them before issue 14) and ``stage_batches`` (from the packed recipient set, the envelope
serialised once per alert: how geo stages them now). Each run is its own transaction, rolled
back, so every run starts from the same table. Writes bench/results/fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from deploy.infra import create_databases, database_url_for, embedded_postgres
from services.geo.audience.service import OUTBOX_INSERT_BATCHES, AudienceService
from services.geo.models import OutboxMessage
from shared import migrations
from shared.db import build_engine, build_sessionmaker
from shared.events import AlertContent, AlertPublished, RecipientBatch
from shared.logs import configure_logging
from shared.outbox import add_event, add_events

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO / "bench" / "results" / "fanout.json"
BATCH_SIZE = 500


def say(message: str) -> None:
    print(f"[bench-fanout] {message}", flush=True)


def recipient_batches(members: int) -> list[RecipientBatch]:
    content = AlertContent(
        alert_id=uuid.uuid4(),
        headline="Burglaries across London: check doors and windows",
        body="A rise in burglaries has been reported in every borough.",
        category="burglary",
        severity="Moderate",
        urgency="Expected",
        sender_name="Tawny",
        sent_at=datetime.now(UTC),
    )
    return [
        RecipientBatch(
            content=content,
            batch_number=number,
            member_ids=[uuid.uuid4() for _ in range(min(BATCH_SIZE, members - start))],
        )
        for number, start in enumerate(range(0, members, BATCH_SIZE))
    ]


async def one_at_a_time(session: AsyncSession, batches: list[RecipientBatch]) -> None:
    for batch in batches:
        await add_event(session, OutboxMessage, batch, producer="geo")


async def in_bulk(session: AsyncSession, batches: list[RecipientBatch]) -> None:
    for start in range(0, len(batches), OUTBOX_INSERT_BATCHES):
        chunk = batches[start : start + OUTBOX_INSERT_BATCHES]
        await add_events(session, OutboxMessage, chunk, producer="geo")


Stager = Callable[[AsyncSession, list[RecipientBatch]], Awaitable[None]]


def serialised_once(batches: list[RecipientBatch]) -> Stager:
    """How geo stages them now: from the packed recipient set, the envelope serialised once
    per alert (services.geo.audience.service.AudienceService.stage_batches). Its time includes
    formatting the million ids as text, which the other two ways get done for free (prebuilt
    batches)."""
    packed = b"".join(m.bytes for batch in batches for m in batch.member_ids)
    alert = AlertPublished(content=batches[0].content, target_ward_codes=[])

    async def stage(session: AsyncSession, _: list[RecipientBatch]) -> None:
        await AudienceService(session).stage_batches(alert, packed, batch_size=BATCH_SIZE)

    return stage


async def measure(url: str, members: int, repeats: int) -> dict[str, Any]:
    engine = build_engine(url, application_name="bench-fanout", pool_size=1)
    sessions = build_sessionmaker(engine)
    batches = recipient_batches(members)
    ways: dict[str, Stager] = {
        "one_at_a_time": one_at_a_time,
        "bulk": in_bulk,
        "serialised_once": serialised_once(batches),
    }
    samples: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for run in range(repeats):
            for name, stage in ways.items():
                async with sessions() as session:
                    started = time.perf_counter()
                    await stage(session, batches)
                    samples[name].append(time.perf_counter() - started)
                    await session.rollback()
                say(f"run {run + 1}/{repeats}: {name} {samples[name][-1]:.2f} s")
    finally:
        await engine.dispose()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "batches": len(batches),
        "members": members,
        "runs": repeats,
        "one_at_a_time_s": round(medians["one_at_a_time"], 2),
        "bulk_s": round(medians["bulk"], 2),
        "serialised_once_s": round(medians["serialised_once"], 2),
        "speedup": round(medians["one_at_a_time"] / medians["bulk"], 1),
        "speedup_serialised_once_over_bulk": round(medians["bulk"] / medians["serialised_once"], 1),
        "samples_s": {name: [round(v, 2) for v in values] for name, values in samples.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    configure_logging("bench-fanout", "WARNING", json=False)
    with (
        tempfile.TemporaryDirectory(prefix="tawny-bench-fanout-") as work,
        embedded_postgres(Path(work) / "pg", durable=False) as postgres,
    ):
        create_databases(postgres.url, ["bench_fanout"])
        url = database_url_for(postgres.url, "bench_fanout")
        migrations.upgrade("geo", url)
        say(f"staging {args.members:,} members in batches of {BATCH_SIZE}, {args.repeats} runs")
        results = asyncio.run(measure(url, args.members, args.repeats))
    results |= {
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}"
        ),
        "date": datetime.now(UTC).date().isoformat(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    say(
        f"{results['batches']:,} batches: one at a time {results['one_at_a_time_s']:.2f} s, "
        f"bulk {results['bulk_s']:.2f} s ({results['speedup']}x faster), serialised once "
        f"{results['serialised_once_s']:.2f} s; "
        f"written to {args.output}"
    )
    return 0
