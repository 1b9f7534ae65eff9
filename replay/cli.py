"""Replay a year of London's alerts against Tawny and measure it: ``python -m replay --help``."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from deploy.devstack import DevStack, Ports, StackOptions
from replay import plan as plans
from replay import population, report
from replay.runner import Audience, Credentials, Replayer, RunState, Sinks

REPO_ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = REPO_ROOT / ".replay"
DEFAULT_PLAN = WORK_DIR / "plan.jsonl"
DEFAULT_STATE = WORK_DIR / "population.json"
DEFAULT_RESULTS = REPO_ROOT / "bench" / "results" / "replay.json"
DEFAULT_STACK = WORK_DIR / "stack.json"
DEFAULT_LONDON_RESULTS = REPO_ROOT / "bench" / "results" / "london_alert.json"
# A loaded box can take minutes to import and start five services.
STACK_READY_TIMEOUT_S = 600.0
LOG_LINE_INTERVAL_S = 10.0
# A replay plays a whole force's officers (and Locust a crowd of residents) from one address
# and one or two accounts: the gateway's per-address and per-account limits, sized for one
# person, would measure themselves (429s) instead of the platform. Lifted on local stacks only.
LOAD_TEST_RATE_LIMITS = {
    "GATEWAY_RATE_LIMIT_PER_IP_PER_MINUTE": "1000000",
    "GATEWAY_RATE_LIMIT_IP_BURST": "100000",
    "GATEWAY_RATE_LIMIT_PER_ACCOUNT_PER_MINUTE": "1000000",
    "GATEWAY_RATE_LIMIT_ACCOUNT_BURST": "100000",
}

DESCRIPTION = """\
Replay a year of London's crime alerts against Tawny, and measure publish-to-delivery.

Steps (each a subcommand; `embedded` does them all on a local stack):
  plan     generate a year of traffic from OWL's figures (14,000 alerts, 6M emails,
           12M pushes) into a JSON lines file; the same --seed gives the same year
  seed     create the members the alerts go to (--scale 0.01 of 1,000,000), through the
           services' own code; marked by their @replay.tawny.london addresses
  unseed   erase every seeded member again (identity's erasure events clean geo and dispatch)
  run      play the plan through the gateway's public API (--speed, --from/--to) while
           watching the sinks; writes bench/results/replay.json (and PNG plots with --plots)
  embedded start the whole platform locally, seed, run, stop (what `make replay` does)

Example: a whole year at 1:100, an hour of plan per second:
  python -m replay plan
  python -m replay embedded --scale 0.01 --speed 3600 --plots docs/replay
"""


def _date(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class PatientStack(DevStack):
    """The dev stack, waiting longer for the services: on a loaded box they can take minutes."""

    def wait_until_ready(self, timeout_s: float) -> None:
        super().wait_until_ready(max(timeout_s, STACK_READY_TIMEOUT_S))


@dataclass(frozen=True)
class Target:
    """Where a replay sends to and looks: the gateway, the sinks, the services' databases (for
    seeding) and, for a local stack, the process ids to measure."""

    gateway: str
    sinks: Sinks
    databases: population.DatabaseUrls | None = None
    pids: dict[str, int] = field(default_factory=dict)
    # A local stack's SMTP port and work directory (its VAPID and FCM keys): the bare sender's.
    smtp_port: int | None = None
    stack_dir: str | None = None

    @classmethod
    def of_stack(cls, stack: DevStack) -> Target:
        return cls(
            gateway=stack.gateway_url,
            sinks=Sinks(
                stack.smtp_sink_url,
                stack.webpush_sink_url,
                f"http://127.0.0.1:{stack.ports.fcm}",
                f"http://127.0.0.1:{stack.ports.notify}",
            ),
            databases=population.DatabaseUrls(
                stack.database_urls["identity"],
                stack.database_urls["geo"],
                stack.database_urls["dispatch"],
            ),
            pids={p.name: p.process.pid for p in stack.processes},
            smtp_port=stack.ports.smtp,
            stack_dir=str(stack.options.work_dir),
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, path: Path) -> Target:
        data = json.loads(path.read_text())
        databases = data["databases"]
        return cls(
            gateway=data["gateway"],
            sinks=Sinks(**data["sinks"]),
            databases=population.DatabaseUrls(**databases) if databases else None,
            pids=data["pids"],
            smtp_port=data.get("smtp_port"),
            stack_dir=data.get("stack_dir"),
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m replay",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="generate a year of alerts into a plan file")
    plan.add_argument("--seed", type=int, default=2026, help="same seed, same year (2026)")
    plan.add_argument("--out", type=Path, default=DEFAULT_PLAN, help=f"({DEFAULT_PLAN})")
    plan.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1))
    plan.add_argument("--days", type=int, default=365)
    plan.add_argument("--alerts", type=int, default=plans.YEARLY_ALERTS)
    plan.add_argument("--emails", type=int, default=plans.YEARLY_EMAILS, help="year's emails")
    plan.add_argument("--pushes", type=int, default=plans.YEARLY_PUSHES, help="year's pushes")
    plan.add_argument("--london-wide", type=int, default=plans.LONDON_WIDE_ALERTS)

    def population_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--plan", type=Path, default=DEFAULT_PLAN, help="the plan file")
        command.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="keep one member (so one recipient) in 1/scale: 0.01 seeds 10,000 of 1,000,000",
        )
        command.add_argument("--state", type=Path, default=DEFAULT_STATE)
        command.add_argument(
            "--stack",
            type=Path,
            help="the file `python -m replay stack` wrote: its URLs and databases are used",
        )
        command.add_argument(
            "--identity-db", help="identity's database URL (default: IDENTITY_DATABASE_URL)"
        )
        command.add_argument("--geo-db", help="geo's database URL (default: GEO_DATABASE_URL)")
        command.add_argument(
            "--dispatch-db", help="dispatch's database URL (default: DISPATCH_DATABASE_URL)"
        )

    seed = commands.add_parser("seed", help="seed the plan's population (scaled)")
    population_options(seed)
    seed.add_argument("--webpush-sink", default="http://127.0.0.1:8026")
    unseed = commands.add_parser("unseed", help="erase every seeded member")
    population_options(unseed)

    def run_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--speed", type=float, default=3600.0, help="plan seconds per second")
        command.add_argument("--from", dest="start", type=_date, help="window start (ISO date)")
        command.add_argument("--to", dest="end", type=_date, help="window end, exclusive")
        command.add_argument("--busiest-week", action="store_true", help="window: busiest week")
        command.add_argument("--limit", type=int, help="only the first N alerts of the window")
        command.add_argument(
            "--publish-for",
            type=float,
            help="stop publishing after this many seconds (a loaded box that cannot keep pace "
            "still ends in time); what went out is watched to the end and the results say "
            "how far into the window it got",
        )
        command.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
        command.add_argument("--plots", type=Path, help="write PNG plots into this directory")
        command.add_argument(
            "--settle", type=float, default=120.0, help="seconds to wait once quiet"
        )
        command.add_argument("--officer", default="officer@demo.tawny.london:demo-officer-password")
        command.add_argument("--approver", default="admin@demo.tawny.london:demo-admin-password")

    run = commands.add_parser("run", help="play the plan through a running platform")
    population_options(run)
    run_options(run)
    run.add_argument("--gateway", default="http://127.0.0.1:8000", help="the gateway's URL")
    run.add_argument("--smtp-sink", default="http://127.0.0.1:8025")
    run.add_argument("--webpush-sink", default="http://127.0.0.1:8026")
    run.add_argument("--fcm-sink", default="http://127.0.0.1:8027")
    run.add_argument("--notify-sink", default="http://127.0.0.1:8028")

    stack = commands.add_parser(
        "stack", help="start the local stack and keep it up; seed and run use its --stack file"
    )
    stack.add_argument("--dispatchers", type=int, default=1)
    stack.add_argument("--work-dir", type=Path, default=WORK_DIR / "stack")
    stack.add_argument("--out", type=Path, default=DEFAULT_STACK, help=f"({DEFAULT_STACK})")

    london = commands.add_parser(
        "london",
        help="one London-wide Extreme alert to every seeded member, beside a bare sender "
        "(a local stack: --stack); writes bench/results/london_alert.json",
    )
    population_options(london)
    london.add_argument("--settle", type=float, default=300.0, help="seconds to wait once quiet")
    london.add_argument("--results", type=Path, default=DEFAULT_LONDON_RESULTS)
    london.add_argument(
        "--no-bare",
        dest="bare",
        action="store_false",
        help="skip the bare sender (for the extra dispatcher counts of the curve)",
    )
    london.add_argument("--officer", default="officer@demo.tawny.london:demo-officer-password")
    london.add_argument("--approver", default="admin@demo.tawny.london:demo-admin-password")

    embedded = commands.add_parser("embedded", help="local stack: start, seed, run, stop")
    population_options(embedded)
    run_options(embedded)
    embedded.add_argument("--dispatchers", type=int, default=1)
    embedded.add_argument("--work-dir", type=Path, default=WORK_DIR / "stack")
    return parser


# --- commands -----------------------------------------------------------------------------------


def command_plan(args: argparse.Namespace) -> None:
    generator = plans.PlanGenerator(
        plans.Geography.from_postcodes(),
        seed=args.seed,
        start=args.start,
        days=args.days,
        alerts=args.alerts,
        yearly_emails=args.emails,
        yearly_pushes=args.pushes,
        london_wide=args.london_wide,
    )
    plan = generator.generate()
    plan.write(args.out)
    totals = plan.totals()
    print(f"plan written to {args.out}: reach {plan.header.reach}")
    for name, value in totals.items():
        print(f"  {name:<12} {value:>12,}")


def _plan(path: Path) -> plans.Plan:
    if not path.exists():
        sys.exit(f"no plan at {path}: make one with `python -m replay plan`")
    return plans.Plan.read(path)


def _urls(
    args: argparse.Namespace, fallback: dict[str, str] | None = None
) -> population.DatabaseUrls:
    import os

    if fallback is None and getattr(args, "stack", None):
        databases = Target.read(args.stack).databases
        fallback = asdict(databases) if databases else None

    def pick(name: str, given: str | None) -> str:
        value = (
            given or os.environ.get(f"{name.upper()}_DATABASE_URL") or (fallback or {}).get(name)
        )
        if not value:
            sys.exit(f"{name}'s database URL is needed: --{name}-db or {name.upper()}_DATABASE_URL")
        return value

    return population.DatabaseUrls(
        pick("identity", args.identity_db),
        pick("geo", args.geo_db),
        pick("dispatch", args.dispatch_db),
    )


def _progress_bar(total: int) -> tuple[Callable[[str, int], None], Callable[[], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(),
    )  # fmt: skip
    bar.start()
    tasks: dict[str, Any] = {}

    def advance(stage: str, count: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.advance(tasks[stage], count)

    return advance, bar.stop


async def seed_population(
    plan: plans.Plan,
    scale: float,
    urls: population.DatabaseUrls,
    webpush_sink: str,
    state_path: Path,
) -> population.PopulationState:
    count = max(1, round(plan.header.population * scale))
    members = list(
        population.generate_members(
            count,
            seed=plan.header.seed,
            reach=plan.header.reach,
            postcodes=population.load_postcodes(),
        )
    )
    advance, stop = _progress_bar(count)
    started = time.monotonic()
    try:
        seeder = population.Seeder(urls, webpush_sink_url=webpush_sink, progress=advance)
        subscriptions = await seeder.seed(members)
    finally:
        stop()
    state = population.PopulationState(plan.header.seed, count, plan.header.reach, subscriptions)
    state.write(state_path)
    elapsed = time.monotonic() - started
    print(
        f"seeded {count:,} members in {elapsed:.0f}s, {count / elapsed:,.0f} a second "
        f"(load average {' '.join(map(str, report.load_average()))}; {state_path})"
    )
    return state


def command_seed(args: argparse.Namespace) -> None:
    webpush = Target.read(args.stack).sinks.webpush if args.stack else args.webpush_sink
    asyncio.run(seed_population(_plan(args.plan), args.scale, _urls(args), webpush, args.state))


def command_unseed(args: argparse.Namespace) -> None:
    if not args.state.exists():
        sys.exit(f"nothing seeded: no {args.state}")
    state = population.PopulationState.read(args.state)
    members = state.members()
    advance, stop = _progress_bar(len(members))
    try:
        erased = asyncio.run(population.unseed(_urls(args).identity, members, advance))
    finally:
        stop()
    args.state.unlink()
    print(f"erased {erased:,} seeded members; geo and dispatch follow identity's events")


def _window(args: argparse.Namespace, plan: plans.Plan) -> tuple[datetime, datetime | None]:
    if args.busiest_week:
        return plan.busiest_week()
    start = args.start or datetime.fromisoformat(plan.header.start).replace(tzinfo=UTC)
    return start, args.end


def _credentials(value: str) -> Credentials:
    email, _, password = value.partition(":")
    return Credentials(email, password)


def _live_display() -> tuple[Callable[[RunState], None], Callable[[], None]]:
    from rich.live import Live
    from rich.table import Table

    if not sys.stdout.isatty():
        return _log_lines()
    live = Live(refresh_per_second=2)
    live.start()

    def show(state: RunState) -> None:
        table = Table(title="replay", show_header=False)
        delivered = state.delivered_by_channel()
        table.add_row("alerts published", f"{state.alerts_done:,}")
        table.add_row("messages (alert/update/cancel)", f"{len(state.sent):,}")
        for channel in ("email", "webpush", "fcm", "sms"):
            table.add_row(f"delivered {channel}", f"{delivered.get(channel, 0):,}")
        table.add_row("expected so far", f"{state.expected_total():,}")
        table.add_row("backlog", f"{state.backlog():,}")
        table.add_row(
            "errors", f"{sum(v for k, v in state.errors.items() if not k.startswith('last:'))}"
        )
        live.update(table)

    return show, live.stop


def _log_lines() -> tuple[Callable[[RunState], None], Callable[[], None]]:
    """Without a terminal (CI, a log file): one line every LOG_LINE_INTERVAL_S instead."""
    last = [0.0]

    def show(state: RunState) -> None:
        if time.monotonic() - last[0] < LOG_LINE_INTERVAL_S:
            return
        last[0] = time.monotonic()
        delivered = dict(state.delivered_by_channel())
        print(
            f"[replay] alerts {state.alerts_done:,}  delivered {delivered}  "
            f"expected {state.expected_total():,}  backlog {state.backlog():,}  "
            f"errors {sum(v for k, v in state.errors.items() if not k.startswith('last:'))}",
            flush=True,
        )

    return show, lambda: None


def _process_sampler(pids: dict[str, int]) -> Callable[[], dict[str, dict[str, float]]]:
    import psutil

    processes = {}
    for name, pid in pids.items():
        try:
            process = psutil.Process(pid)
            process.cpu_percent()
            processes[name] = process
        except psutil.Error:
            continue

    def sample() -> dict[str, dict[str, float]]:
        figures = {}
        for name, process in processes.items():
            try:
                figures[name] = {
                    "cpu_percent": process.cpu_percent(),
                    "rss_mb": process.memory_info().rss / 1e6,
                }
            except psutil.Error:
                continue
        return figures

    return sample


async def replay_plan(
    args: argparse.Namespace,
    plan: plans.Plan,
    state: population.PopulationState,
    target: Target,
    *,
    show: bool = True,
    keep: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Play the plan's window; ``keep`` (if given) receives the run's state under "state"."""
    start, end = _window(args, plan)
    alerts = plan.window(start, end)[: args.limit]
    members = state.members()
    audience = Audience(members, plans.Geography.from_postcodes(), state.webpush_subscriptions)
    replayer = Replayer(
        gateway_url=target.gateway,
        sinks=target.sinks,
        author=_credentials(args.officer),
        approver=_credentials(args.approver),
        audience=audience,
        run_id=secrets.token_hex(3),
        speed=args.speed,
        publish_for_s=getattr(args, "publish_for", None),
    )
    if show:
        on_sample, stop_display = _live_display()
    else:
        on_sample, stop_display = (lambda _state: None), (lambda: None)
    started = time.monotonic()
    try:
        playing = asyncio.create_task(replayer.play(alerts, start, end))
        await replayer.watch(
            playing,
            settle_s=args.settle,
            interval_s=1.0,
            on_sample=on_sample,
            sample_processes=_process_sampler(target.pids),
        )
        await playing
    finally:
        stop_display()
    if keep is not None:
        keep["state"] = replayer.state
    seeded = {m.email for m in members} | {m.fcm_token for m in members if m.push == "fcm"}
    seeded |= set(state.webpush_subscriptions.values())
    seeded |= {m.phone for m in members if m.phone}
    data = report.results(
        replayer.state,
        seeded=seeded,
        scale=state.count / plan.header.population,
        speed=args.speed,
        members=state.count,
        window=(start.isoformat(), end.isoformat() if end else None),
        played_until=replayer.state.played_until.isoformat()
        if replayer.state.alerts_done
        else None,
        wall_s=time.monotonic() - started,
    )
    report.write_json(data, args.results)
    if args.plots:
        for path in report.plot(data, args.plots):
            print(f"plot: {path}")
    _print_summary(data, args.results)
    return data


def _print_summary(data: dict[str, Any], path: Path) -> None:
    print(f"\nreplay results ({path}):")
    for key in (
        "alerts",
        "messages_expected",
        "messages_delivered",
        "lost",
        "doubled",
        "unexpected",
    ):
        print(f"  {key:<22} {data[key]:>10,}")
    print(f"  {'msgs_per_s':<22} {data['msgs_per_s']}")
    print(f"  {'publish_to_last_p95_s':<22} {data['publish_to_last_p95_s']}")
    print(f"  {'peak_backlog':<22} {data['peak_backlog']:>10,}")
    print(f"  {'load_average':<22} {data['load_average']}")
    if data["errors"]:
        print(f"  errors: {data['errors']}")


def command_run(args: argparse.Namespace) -> None:
    plan = _plan(args.plan)
    if not args.state.exists():
        sys.exit(f"no seeded population ({args.state}): run `python -m replay seed` first")
    state = population.PopulationState.read(args.state)
    if args.stack:
        target = Target.read(args.stack)
    else:
        sinks = Sinks(args.smtp_sink, args.webpush_sink, args.fcm_sink, args.notify_sink)
        target = Target(args.gateway, sinks)
    data = asyncio.run(replay_plan(args, plan, state, target))
    if data["lost"] or data["doubled"]:
        sys.exit(1)


def _stack_options(args: argparse.Namespace) -> StackOptions:
    # Every load-test stack starts from empty databases. Kept from a stack before, seeded web
    # push members would still point at that stack's push sink, on a port nobody listens on
    # now, and its deliveries would count against this run.
    shutil.rmtree(args.work_dir / "postgres", ignore_errors=True)
    return StackOptions(
        ports=Ports.free(), work_dir=args.work_dir, dispatchers=args.dispatchers,
        durable_postgres=False, extra_env=dict(LOAD_TEST_RATE_LIMITS),
        # The replay reads only subjects and recipients; a parsing sink would pace the run.
        smtp_headers_only=True,
    )  # fmt: skip


def _stop_on_sigterm() -> None:
    def request_stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)


def command_stack(args: argparse.Namespace) -> None:
    _stop_on_sigterm()
    with PatientStack(_stack_options(args)).running() as stack:
        Target.of_stack(stack).write(args.out)
        print(stack.summary())
        print(f"URLs and databases written to {args.out}: pass --stack {args.out} to seed/run")
        try:
            while True:
                stack.check_processes()
                time.sleep(1.0)
        except KeyboardInterrupt:
            print("stopping…")
    args.out.unlink(missing_ok=True)


def command_embedded(args: argparse.Namespace) -> None:
    plan = _plan(args.plan)
    with PatientStack(_stack_options(args)).running() as stack:
        target = Target.of_stack(stack)
        assert target.databases is not None

        async def seed_and_run() -> dict[str, Any]:
            assert target.databases is not None
            state = await seed_population(
                plan, args.scale, target.databases, target.sinks.webpush, args.state
            )
            return await replay_plan(args, plan, state, target)

        data = asyncio.run(seed_and_run())
    if data["lost"] or data["doubled"]:
        sys.exit(1)


def command_london(args: argparse.Namespace) -> None:
    from replay import london

    if not args.stack:
        sys.exit(
            "the London-wide alert runs against a local stack: --stack (python -m replay stack)"
        )
    target = Target.read(args.stack)
    if not args.state.exists():
        sys.exit(f"no seeded population ({args.state}): run `python -m replay seed` first")
    state = population.PopulationState.read(args.state)
    members = state.members()
    plan = _plan(args.plan)
    alert = london.london_wide_alert(plan)
    # A window holding that alert alone, and none of its follow-ups.
    args.speed, args.start, args.end = 1.0, alert.at, alert.at + timedelta(microseconds=1)
    args.limit, args.plots = 1, None
    args.busiest_week = False
    dispatchers = sum(1 for name in target.pids if name.startswith("dispatch"))
    print(
        f"London-wide alert {alert.number} to {len(members):,} members, {dispatchers} dispatcher(s)"
    )
    played: dict[str, Any] = {}
    earlier = london.earlier_runs(args.results)

    async def play_and_compare() -> dict[str, Any]:
        assert target.smtp_port is not None and target.stack_dir is not None
        data = await replay_plan(args, plan, state, target, keep=played)
        bare: dict[str, Any] = {"bare_s": None, "by_channel": None}
        if args.bare:
            print("bare sender: the same messages to the same sinks…")
            bare = await london.bare_send(
                members,
                smtp_port=target.smtp_port,
                webpush_sink=target.sinks.webpush,
                fcm_sink=target.sinks.fcm,
                stack_dir=Path(target.stack_dir),
                gateway_url=target.gateway,
            )
        figures = london.platform_figures(played["state"])
        return {
            "members": len(members),
            "dispatchers": dispatchers,
            **figures,
            "lost": data["lost"],
            "doubled": data["doubled"],
            "delivered_by_channel": data["delivered_by_channel"],
            "bare_s": bare["bare_s"],
            "bare_by_channel": bare["by_channel"],
            "ratio": round(figures["publish_to_last_s"] / bare["bare_s"], 2)
            if figures["publish_to_last_s"] and bare["bare_s"]
            else None,
            "processes": data["processes"],
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average": report.load_average(),
        }

    run = asyncio.run(play_and_compare())
    written = london.write_run(args.results, dispatchers, run, earlier)
    print(json.dumps({k: v for k, v in written.items() if k != "runs"}, indent=2))


COMMANDS = {
    "london": command_london,
    "plan": command_plan,
    "seed": command_seed,
    "unseed": command_unseed,
    "run": command_run,
    "stack": command_stack,
    "embedded": command_embedded,
}


def main(argv: Sequence[str] | None = None) -> None:
    from shared.logs import configure_logging

    args = build_parser().parse_args(argv)
    # The services' own code logs every member it seeds: only warnings belong on this screen.
    configure_logging("replay", level="WARNING", json=False)
    COMMANDS[args.command](args)


if __name__ == "__main__":
    main()
