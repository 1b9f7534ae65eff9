"""``python -m chaos``: start a platform of its own, seed one ward's watchers, play the faults,
print the table, write the JSON, and exit non-zero on any loss or on more doubles than the
dispatcher's window."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from chaos.faults import chosen
from chaos.suite import ChaosSuite, Outcome, supervised
from deploy.devstack import DevStack, Ports, StackOptions
from replay.population import (
    DatabaseUrls,
    SeededMember,
    Seeder,
    load_postcodes,
)
from replay.report import load_average, machine
from services.dispatch.config import DispatchSettings

# Seeded members' indexes start here, clear of the replay's (which count from 0), so that a
# chaos run and a replay can share a platform.
INDEX_OFFSET = 7_000_000
# The platform's rate limits are sized for residents; the suite signs in and publishes from
# one address many times.
UNLIMITED = {
    "GATEWAY_RATE_LIMIT_PER_IP_PER_MINUTE": "1000000",
    "GATEWAY_RATE_LIMIT_IP_BURST": "100000",
    "GATEWAY_RATE_LIMIT_PER_ACCOUNT_PER_MINUTE": "1000000",
    "GATEWAY_RATE_LIMIT_ACCOUNT_BURST": "100000",
}


# The channels the suite's alerts go out on: email to every member, FCM to every other one
# (``ward_members``).
CHANNELS_SENT = 2


def duplicates_window() -> int:
    """The most messages a killed dispatcher can have had on the wire: each of its workers'
    claimed chunk, ``worker_tasks`` per channel x the channels sent x ``claim_size``
    (documented with those settings). Those may be sent twice when its rows are reclaimed;
    nothing else may."""
    settings = DispatchSettings()
    return settings.worker_tasks * CHANNELS_SENT * settings.claim_size


def ward_members(count: int, *, index_offset: int = INDEX_OFFSET) -> tuple[str, list[SeededMember]]:
    """``count`` members at the postcodes of one ward, every other one with a mobile push token
    as well as an email address; all receive safety advice."""
    postcodes = load_postcodes()
    ward_code = postcodes[len(postcodes) // 2].ward_code
    places = [p for p in postcodes if p.ward_code == ward_code]
    members = [
        SeededMember(
            index_offset + i,
            places[i % len(places)].postcode,
            ward_code,
            ("safety_advice",),
            "fcm" if i % 2 else None,
            None,
        )
        for i in range(count)
    ]
    return ward_code, members


async def seed(stack: DevStack, members: Sequence[SeededMember]) -> None:
    urls = DatabaseUrls(
        stack.database_urls["identity"],
        stack.database_urls["geo"],
        stack.database_urls["dispatch"],
    )
    seeder = Seeder(urls, webpush_sink_url=stack.webpush_sink_url, progress=lambda _s, _n: None)
    await seeder.seed(members)


async def play(
    stack: DevStack,
    members: Sequence[SeededMember],
    ward_code: str,
    faults: Sequence[str] | None,
    *,
    recovery_timeout_s: float,
    settle_s: float,
) -> list[Outcome]:
    async with httpx.AsyncClient(timeout=120.0) as client:
        suite = ChaosSuite(
            stack,
            members,
            ward_code,
            recovery_timeout_s=recovery_timeout_s,
            settle_s=settle_s,
            client=client,
        )
        async with supervised(stack):
            return await suite.run(chosen(faults))


def failures(outcomes: Sequence[Outcome], max_doubled: int) -> list[str]:
    problems = []
    for outcome in outcomes:
        if outcome.lost:
            problems.append(f"{outcome.fault}: {outcome.lost} lost")
        if outcome.extra_messages > max_doubled:
            problems.append(
                f"{outcome.fault}: {outcome.extra_messages} extra messages, more than the "
                f"window of {max_doubled}"
            )
    return problems


def table(outcomes: Sequence[Outcome]) -> str:
    """The Markdown table README's reliability section shows."""
    lines = [
        "| fault | recipients | lost | doubled | recovery after the fault | publish to last "
        "| note |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for o in outcomes:
        excused = f" (+{o.excused} refused by the provider)" if o.excused else ""
        recovery = "never" if o.recovery_s is None else f"{o.recovery_s:.1f} s"
        last = "" if o.publish_to_last_s is None else f"{o.publish_to_last_s:.1f} s"
        lines.append(
            f"| {o.fault} | {o.expected:,}{excused} | {o.lost} | {o.doubled} | {recovery} | "
            f"{last} | {o.note.replace('|', '/')} |"
        )
    return "\n".join(lines)


def print_table(outcomes: Sequence[Outcome], max_doubled: int) -> None:
    from rich.console import Console
    from rich.table import Table

    view = Table(title=f"Faults (duplicates window: {max_doubled} messages)")
    for column in ("fault", "recipients", "lost", "doubled", "recovery", "publish to last"):
        view.add_column(column, justify="left" if column == "fault" else "right")
    for o in outcomes:
        lost = f"[red]{o.lost}[/red]" if o.lost else "0"
        doubled = f"[yellow]{o.doubled}[/yellow]" if o.doubled else "0"
        view.add_row(
            o.fault + (f"\n[dim]{o.note[:80]}[/dim]" if o.note else ""),
            f"{o.expected:,}" + (f" +{o.excused} refused" if o.excused else ""),
            lost,
            doubled,
            "never" if o.recovery_s is None else f"{o.recovery_s:.1f} s",
            "" if o.publish_to_last_s is None else f"{o.publish_to_last_s:.1f} s",
        )
    Console().print(view)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chaos",
        description="Inject faults into a platform of its own and count what each cost.",
    )
    parser.add_argument("--recipients", type=int, default=2_000, help="seeded members (2,000)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="only the faults whose names contain TEXT (repeatable), e.g. --only kill",
    )
    parser.add_argument("--dispatchers", type=int, default=2, help="dispatch processes (2)")
    parser.add_argument(
        "--recovery-timeout",
        type=float,
        default=300.0,
        help="seconds after a fault to wait for every recipient before counting them lost (300)",
    )
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds to wait for late copies (10)"
    )
    parser.add_argument(
        "--max-doubled",
        type=int,
        default=None,
        help="extra messages a fault may cause before the run fails (default: the dispatcher's "
        "in-flight window, DISPATCH_WORKER_TASKS x 2 channels x DISPATCH_CLAIM_SIZE)",
    )
    parser.add_argument("--results", type=Path, help="write the outcomes here as JSON")
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="keep the platform's data and logs here (default: a temporary directory)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    max_doubled = args.max_doubled if args.max_doubled is not None else duplicates_window()
    ward_code, members = ward_members(args.recipients)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tawny-chaos-") as temporary:
        options = StackOptions(
            ports=Ports.free(),
            work_dir=args.work_dir or Path(temporary),
            dispatchers=args.dispatchers,
            extra_env=UNLIMITED,
        )
        with DevStack(options).running() as stack:
            print(f"[chaos] seeding {len(members):,} members watching ward {ward_code}")
            asyncio.run(seed(stack, members))
            outcomes = asyncio.run(
                play(
                    stack,
                    members,
                    ward_code,
                    args.only,
                    recovery_timeout_s=args.recovery_timeout,
                    settle_s=args.settle,
                )
            )
    print_table(outcomes, max_doubled)
    print(table(outcomes))
    if args.results:
        data: dict[str, Any] = {
            "machine": machine(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average_after": load_average(),
            "recipients": len(members),
            "dispatchers": args.dispatchers,
            "duplicates_window": max_doubled,
            "duration_s": round(time.monotonic() - started),
            "outcomes": [o.as_dict() for o in outcomes],
        }
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(data, indent=2) + "\n")
        print(f"[chaos] results in {args.results}")
    problems = failures(outcomes, max_doubled)
    if problems:
        print("[chaos] FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(1)
    print(f"[chaos] every fault survived: nothing lost, at most {max_doubled} doubled")
