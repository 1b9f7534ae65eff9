"""The development stack: the whole platform on one machine, as real processes.

    python -m deploy.devstack            # what `make run` starts
    python -m deploy.devstack --help

It starts embedded PostgreSQL and the Kafka-compatible broker Tansu unless ``DATABASE_URL`` and
``KAFKA_BOOTSTRAP_SERVERS`` point at real ones; creates each service's database and the topics;
runs every migration; starts the SMTP sink and each service as its own process (one uvicorn
worker each unless ``WEB_CONCURRENCY`` says more); loads demo data; and prints the URLs. A
process that exits is started again after a backoff (1 s doubling to 30 s), as Kubernetes
restarts a crashed pod. Ctrl-C (or SIGTERM) stops every process it started, and the kernel
stops them too if this supervisor is killed outright. The end-to-end tests reuse
:class:`DevStack`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import FrameType

import httpx

from deploy.infra import (
    STARTUP_BACKSTOP_S,
    EmbeddedKafka,
    EmbeddedPostgres,
    create_databases,
    database_url_for,
    die_with_parent,
    free_port,
    stop_process,
    wait_for_port,
)
from shared import migrations
from shared.settings import ServerProcessSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_LONDON_DATA = REPO_ROOT.parent / "shared" / "data" / "london"
DATABASE_SERVICES = ("identity", "alerts", "geo", "dispatch")

DEMO_OFFICER = ("officer@demo.tawny.london", "demo-officer-password")
DEMO_ADMIN = ("admin@demo.tawny.london", "demo-admin-password")
DEMO_RESIDENT = ("resident@demo.tawny.london", "demo-resident-password")
# Development credentials of the local provider sinks: they guard nothing real.
DEV_NOTIFY_API_KEY = (
    "tawny_dev-5b1f2c8e-6a0d-4f4b-9e3a-2d7c1b8a9f10-0c9e8d7f-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
)
DEV_NOTIFY_RECEIPT_TOKEN = "dev-notify-receipts"  # noqa: S105 (the local sink's, see above)
DEV_FCM_PROJECT = "tawny-dev"


@dataclass(frozen=True)
class Ports:
    gateway: int = 8000
    identity: int = 8001
    alerts: int = 8002
    geo: int = 8003
    dispatch: int = 8004
    smtp: int = 1025
    smtp_http: int = 8025
    webpush: int = 8026
    fcm: int = 8027
    notify: int = 8028

    @classmethod
    def free(cls) -> Ports:
        return cls(*(free_port() for _ in fields(cls)))

    def service(self, name: str) -> int:
        port: int = getattr(self, name)
        return port


@dataclass
class StackOptions:
    ports: Ports = field(default_factory=Ports)
    work_dir: Path = REPO_ROOT / ".devstack"
    database_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    kafka_enable_idempotence: bool = True
    kafka_partitions: int = 12
    # Prefix of the platform's topic and consumer-group names (KAFKA_NAMESPACE), so that it can
    # share a broker with other stacks or test sessions.
    kafka_namespace: str = ""
    database_prefix: str = ""
    dispatchers: int = 1
    demo_data: bool = True
    durable_postgres: bool = True
    log_json: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    progress: bool = True
    # The SMTP sink keeps each message's header lines only (``--headers-only``): for load runs,
    # where parsing every message (4-5 ms each) would make the sink the slowest part measured.
    smtp_headers_only: bool = False

    @classmethod
    def from_environment(cls, **overrides: object) -> StackOptions:
        """Real infrastructure where the environment names it, embedded otherwise."""
        options = cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            kafka_enable_idempotence=os.environ.get("KAFKA_ENABLE_IDEMPOTENCE", "true").lower()
            == "true",
            kafka_partitions=int(os.environ.get("KAFKA_PARTITIONS", "12")),
            kafka_namespace=os.environ.get("KAFKA_NAMESPACE", ""),
        )
        for name, value in overrides.items():
            setattr(options, name, value)
        return options


# A crashed process is started again after 1, 2, 4 ... seconds, at most this long, like a
# Kubernetes CrashLoopBackOff; a process that stays up this long starts over at 1 s.
RESTART_MAX_BACKOFF_S = 30.0
RESTART_STABLE_AFTER_S = 60.0


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    started_at: float = field(default_factory=time.monotonic)
    # Restarts in a row without staying up RESTART_STABLE_AFTER_S; sets the next backoff.
    crashes: int = 0
    restart_at: float | None = None

    def backoff_s(self) -> float:
        return float(min(RESTART_MAX_BACKOFF_S, 2 ** min(self.crashes, 10)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class StackError(RuntimeError):
    pass


class DevStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.ports = options.ports
        self.processes: list[ServiceProcess] = []
        self._postgres: EmbeddedPostgres | None = None
        self._kafka: EmbeddedKafka | None = None
        self.server_url = ""
        self.kafka_bootstrap_servers = ""
        self.kafka_enable_idempotence = options.kafka_enable_idempotence
        self.database_urls: dict[str, str] = {}
        self.log_dir = options.work_dir / "logs"
        self.demo_ward: tuple[str, str] | None = None

    # --- URLs ------------------------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def smtp_sink_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.smtp_http}"

    @property
    def webpush_sink_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.webpush}"

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports.service(name)}"

    @property
    def embedded_broker(self) -> EmbeddedKafka | None:
        """The broker this stack started (None when it uses one from the environment)."""
        return self._kafka

    @property
    def embedded_postgres(self) -> EmbeddedPostgres | None:
        """The PostgreSQL server this stack started (None when it uses DATABASE_URL's)."""
        return self._postgres

    # --- lifecycle -------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        if self.options.progress:
            print(f"[devstack] {message}", flush=True)

    def start(self) -> None:
        started = time.monotonic()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._start_infrastructure()
        self._prepare_databases()
        self._ensure_topics()
        if self.options.demo_data:
            self._import_boundaries()
        self._start_processes()
        self.wait_until_ready(timeout_s=STARTUP_BACKSTOP_S)
        if self.options.demo_data:
            self._subscribe_demo_resident()
        self._say(f"ready in {time.monotonic() - started:.1f}s")

    def stop(self) -> None:
        for service in reversed(self.processes):
            stop_process(service.process)
        self.processes.clear()
        if self._kafka is not None:
            self._kafka.stop()
        if self._postgres is not None:
            self._postgres.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[DevStack]:
        try:
            self.start()
            yield self
        finally:
            self.stop()

    # --- steps -----------------------------------------------------------------------------

    def _start_infrastructure(self) -> None:
        if self.options.database_url:
            self.server_url = self.options.database_url
            self._say("PostgreSQL: using DATABASE_URL")
        else:
            self._postgres = EmbeddedPostgres(
                data_dir=self.options.work_dir / "postgres",
                port=free_port(),
                durable=self.options.durable_postgres,
            )
            self._postgres.start()
            self.server_url = self._postgres.url
            self._say(f"PostgreSQL: embedded (pgserver) on port {self._postgres.port}")
        if self.options.kafka_bootstrap_servers:
            self.kafka_bootstrap_servers = self.options.kafka_bootstrap_servers
            self._say(f"Kafka: using {self.kafka_bootstrap_servers}")
        else:
            self._kafka = EmbeddedKafka(port=free_port())
            self._kafka.start(self.log_dir / "tansu.log")
            self.kafka_bootstrap_servers = self._kafka.bootstrap_servers
            # Tansu refuses idempotent producers; Apache Kafka in production keeps them on.
            self.kafka_enable_idempotence = False
            self._say(f"Kafka: embedded Tansu on {self.kafka_bootstrap_servers}")

    def _prepare_databases(self) -> None:
        names = {svc: f"{self.options.database_prefix}{svc}" for svc in DATABASE_SERVICES}
        create_databases(self.server_url, list(names.values()))
        for service, database in names.items():
            url = database_url_for(self.server_url, database)
            self.database_urls[service] = url
            migrations.upgrade(service, url)
        self._say(f"databases migrated: {', '.join(names.values())}")

    def _ensure_topics(self) -> None:
        import asyncio

        from shared.kafka import ensure_topics

        asyncio.run(
            ensure_topics(
                self.kafka_bootstrap_servers,
                namespace=self.options.kafka_namespace,
                partitions=self.options.kafka_partitions,
            )
        )
        self._say(f"topics ready ({self.options.kafka_partitions} partitions each)")

    def _import_boundaries(self) -> None:
        import asyncio

        from services.geo.boundaries.importer import import_files
        from services.geo.demo import london_or_demo_paths

        wards, boroughs = london_or_demo_paths(
            SHARED_LONDON_DATA if SHARED_LONDON_DATA.is_dir() else None
        )
        summary = asyncio.run(
            import_files(self.database_urls["geo"], wards, boroughs, name=wards.parent.name)
        )
        self._say(f"boundaries imported from {wards.parent}: {summary}")

    def _environment(self) -> dict[str, str]:
        ports = self.ports
        server = ServerProcessSettings()
        env = {
            **os.environ,
            "TAWNY_ENV": "development",
            # uvicorn reads these itself: one worker per service unless WEB_CONCURRENCY says more
            # (five services, the dispatchers, PostgreSQL and the broker already share this
            # machine's cores), and the settings' short backlog and last concurrency bound.
            "WEB_CONCURRENCY": str(server.web_concurrency),
            "UVICORN_BACKLOG": str(server.uvicorn_backlog),
            "UVICORN_LIMIT_CONCURRENCY": str(server.uvicorn_limit_concurrency),
            "LOG_JSON": "true" if self.options.log_json else "false",
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "KAFKA_ENABLE_IDEMPOTENCE": str(self.kafka_enable_idempotence).lower(),
            "KAFKA_NAMESPACE": self.options.kafka_namespace,
            "IDENTITY_JWKS_URL": f"{self.service_url('identity')}/.well-known/jwks.json",
            # Links in emails and feeds point at this stack's gateway, whatever its port.
            "IDENTITY_PUBLIC_BASE_URL": self.gateway_url,
            "DISPATCH_PUBLIC_BASE_URL": self.gateway_url,
            "ALERTS_PUBLIC_BASE_URL": f"{self.gateway_url}/api/alerts",
            "DISPATCH_SMTP_HOST": "127.0.0.1",
            "DISPATCH_SMTP_PORT": str(ports.smtp),
            **self._provider_sink_environment(),
            # Every dispatcher signs with the same key: browsers subscribe with its public half.
            "DISPATCH_WEBPUSH_VAPID_PRIVATE_KEY": self._vapid_private_key(),
            "DISPATCH_WEBPUSH_INSECURE_ORIGINS": self.webpush_sink_url,
            **{f"GATEWAY_{svc.upper()}_URL": self.service_url(svc) for svc in DATABASE_SERVICES},
            **{f"{svc.upper()}_DATABASE_URL": url for svc, url in self.database_urls.items()},
        }
        if self.options.demo_data:
            env.update(
                IDENTITY_SEED_OFFICER_EMAIL=DEMO_OFFICER[0],
                IDENTITY_SEED_OFFICER_PASSWORD=DEMO_OFFICER[1],
                IDENTITY_SEED_ADMIN_EMAIL=DEMO_ADMIN[0],
                IDENTITY_SEED_ADMIN_PASSWORD=DEMO_ADMIN[1],
                IDENTITY_SEED_RESIDENT_EMAIL=DEMO_RESIDENT[0],
                IDENTITY_SEED_RESIDENT_PASSWORD=DEMO_RESIDENT[1],
            )
        env.update(self.options.extra_env)
        return env

    def _vapid_private_key(self) -> str:
        """Kept in the work directory, so subscriptions made in an earlier run stay valid."""
        from services.dispatch.config import new_vapid_private_key

        path = self.options.work_dir / "vapid_private_key"
        if not path.exists():
            path.write_text(new_vapid_private_key())
            path.chmod(0o600)
        return path.read_text().strip()

    def _spawn(
        self, name: str, port: int, command: list[str], env: dict[str, str]
    ) -> ServiceProcess:
        log_path = self.log_dir / f"{name}.log"
        service = ServiceProcess(
            name, port, self._popen(command, env, log_path), log_path, command, env
        )
        self.processes.append(service)
        return service

    @staticmethod
    def _popen(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
        with log_path.open("ab") as log_file:
            return subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )

    def supervise(self) -> None:
        """Start again, with backoff, any process that has exited, as the cluster would: one
        crashed service must not take the whole platform down with it."""
        now = time.monotonic()
        for service in self.processes:
            if service.process.poll() is None:
                if service.crashes and now - service.started_at > RESTART_STABLE_AFTER_S:
                    service.crashes = 0
                continue
            if service.restart_at is None:
                service.restart_at = now + service.backoff_s()
                self._say(
                    f"{service.name} exited with {service.process.returncode}; restarting in "
                    f"{service.backoff_s():.0f}s (log: {service.log_path})"
                )
            elif now >= service.restart_at:
                service.process = self._popen(service.command, service.env, service.log_path)
                service.started_at, service.restart_at = now, None
                service.crashes += 1
                self._say(f"{service.name} restarted (restart {service.crashes} in a row)")

    def _uvicorn(self, app: str, port: int) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", app, "--factory",
            "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "10",
        ]  # fmt: skip

    def _start_processes(self) -> None:
        env = self._environment()
        sink = self._spawn(
            "smtp-sink",
            self.ports.smtp_http,
            [sys.executable, "-m", "deploy.sinks.smtp", "--host", "127.0.0.1",
             "--smtp-port", str(self.ports.smtp), "--http-port", str(self.ports.smtp_http),
             *(["--headers-only"] if self.options.smtp_headers_only else [])],
            env,
        )  # fmt: skip
        wait_for_port("127.0.0.1", self.ports.smtp, STARTUP_BACKSTOP_S, sink.process)
        push_sink = self._spawn(
            "webpush-sink",
            self.ports.webpush,
            [sys.executable, "-m", "deploy.sinks.webpush", "--host", "127.0.0.1",
             "--port", str(self.ports.webpush)],
            env,
        )  # fmt: skip
        wait_for_port("127.0.0.1", self.ports.webpush, STARTUP_BACKSTOP_S, push_sink.process)
        self._start_provider_sinks(env)
        for service in ("identity", "alerts", "geo"):
            port = self.ports.service(service)
            self._spawn(
                service, port, self._uvicorn(f"services.{service}.app:create_app", port), env
            )
        for index in range(self.options.dispatchers):
            # Extra dispatchers join the same consumer group; only the first is routed to.
            port = self.ports.dispatch if index == 0 else free_port()
            name = "dispatch" if index == 0 else f"dispatch-{index + 1}"
            self._spawn(name, port, self._uvicorn("services.dispatch.app:create_app", port), env)
        self._spawn(
            "gateway",
            self.ports.gateway,
            self._uvicorn("services.gateway.app:create_app", self.ports.gateway),
            env,
        )
        self._say(f"started {len(self.processes)} processes; logs in {self.log_dir}")

    # --- the FCM and Notify sinks ----------------------------------------------------------

    @property
    def fcm_key_path(self) -> Path:
        return self.options.work_dir / "fcm-service-account.json"

    def _provider_sink_environment(self) -> dict[str, str]:
        fcm_url = f"http://127.0.0.1:{self.ports.fcm}"
        return {
            "DISPATCH_FCM_BASE_URL": fcm_url,
            "DISPATCH_FCM_TOKEN_URL": f"{fcm_url}/token",
            "DISPATCH_FCM_PROJECT_ID": DEV_FCM_PROJECT,
            "DISPATCH_FCM_SERVICE_ACCOUNT_FILE": str(self.fcm_key_path),
            "DISPATCH_NOTIFY_BASE_URL": f"http://127.0.0.1:{self.ports.notify}",
            "DISPATCH_NOTIFY_API_KEY": DEV_NOTIFY_API_KEY,
            "DISPATCH_NOTIFY_RECEIPT_TOKEN": DEV_NOTIFY_RECEIPT_TOKEN,
        }

    def _start_provider_sinks(self, env: dict[str, str]) -> None:
        """Mobile push to the FCM sink (with a service-account key made for it), SMS and letters
        to the Notify sink, whose delivery receipts go back to the first dispatcher."""
        from deploy.sinks.fcm import new_service_account

        if not self.fcm_key_path.exists():
            self.fcm_key_path.parent.mkdir(parents=True, exist_ok=True)
            new_service_account(self.fcm_key_path, project_id=DEV_FCM_PROJECT)
        fcm = self._spawn(
            "fcm-sink",
            self.ports.fcm,
            [sys.executable, "-m", "deploy.sinks.fcm", "--port", str(self.ports.fcm),
             "--service-account", str(self.fcm_key_path), "--project-id", DEV_FCM_PROJECT],
            env,
        )  # fmt: skip
        notify = self._spawn(
            "notify-sink",
            self.ports.notify,
            [sys.executable, "-m", "deploy.sinks.notify", "--port", str(self.ports.notify),
             "--receipts-url", f"{self.service_url('dispatch')}/receipts/notify",
             "--auto-receipts"],
            {**env, "NOTIFY_SINK_API_KEY": DEV_NOTIFY_API_KEY,
             "NOTIFY_SINK_RECEIPTS_TOKEN": DEV_NOTIFY_RECEIPT_TOKEN},
        )  # fmt: skip
        wait_for_port("127.0.0.1", self.ports.fcm, STARTUP_BACKSTOP_S, fcm.process)
        wait_for_port("127.0.0.1", self.ports.notify, STARTUP_BACKSTOP_S, notify.process)

    def wait_until_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        with httpx.Client(timeout=3.0) as client:
            while time.monotonic() < deadline:
                self.check_processes()
                try:
                    response = client.get(f"{self.gateway_url}/readyz")
                    if response.status_code == 200:
                        return
                    last = response.text
                except httpx.HTTPError as error:
                    last = repr(error)
                time.sleep(0.5)
        raise StackError(f"the platform was not ready after {timeout_s:.0f}s: {last}")

    def check_processes(self) -> None:
        for service in self.processes:
            if service.process.poll() is not None:
                tail = service.log_path.read_text(errors="replace")[-3000:]
                raise StackError(
                    f"{service.name} exited with {service.process.returncode}; "
                    f"last lines of {service.log_path}:\n{tail}"
                )

    def _subscribe_demo_resident(self) -> None:
        """The demo resident watches the first ward of the imported set, so that an alert there
        reaches them."""
        with httpx.Client(base_url=self.gateway_url, timeout=10.0) as client:
            ward = client.get("/api/geo/wards", params={"limit": 1}).raise_for_status().json()
            first = ward[0] if isinstance(ward, list) else ward["items"][0]
            self.demo_ward = (first["code"], first["name"])
            token = (
                client.post(
                    "/api/identity/tokens",
                    json={"email": DEMO_RESIDENT[0], "password": DEMO_RESIDENT[1]},
                )
                .raise_for_status()
                .json()["access_token"]
            )
            response = client.post(
                "/api/geo/subscriptions",
                json={"ward_code": first["code"]},
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code not in (201, 409):
                response.raise_for_status()

    def summary(self) -> str:
        lines = [
            "",
            "Tawny is running.",
            "",
            f"  Web (gateway)      {self.gateway_url}/",
            f"  Web client         {self.gateway_url}/app",
            f"  API docs           {self.gateway_url}/api-docs",
            f"  Readiness          {self.gateway_url}/readyz",
            f"  Mail received      {self.smtp_sink_url}/messages",
            f"  SMTP sink          127.0.0.1:{self.ports.smtp}",
            f"  Pushes received    {self.webpush_sink_url}/messages",
            f"  Push (FCM sink)    http://127.0.0.1:{self.ports.fcm}/messages",
            f"  SMS and letters    http://127.0.0.1:{self.ports.notify}/notifications",
            "",
            "  Services:",
            *(f"    {p.name:<10} {p.url}   log: {p.log_path}" for p in self.processes),
            "",
            f"  PostgreSQL         {self.server_url}",
            f"  Kafka              {self.kafka_bootstrap_servers}",
        ]
        if self.options.demo_data:
            lines += [
                "",
                "  Demo logins (email / password):",
                f"    officer   {DEMO_OFFICER[0]} / {DEMO_OFFICER[1]}",
                f"    admin     {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}",
                f"    resident  {DEMO_RESIDENT[0]} / {DEMO_RESIDENT[1]}",
            ]
            if self.demo_ward:
                lines.append(
                    f"    the resident watches ward {self.demo_ward[1]} ({self.demo_ward[0]})"
                )
        lines += ["", "Press Ctrl-C to stop everything.", ""]
        return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the whole Tawny platform locally.")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / ".devstack")
    parser.add_argument("--dispatchers", type=int, default=1, help="dispatch processes (one group)")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo data")
    parser.add_argument("--base-port", type=int, default=8000, help="gateway port; services follow")
    parser.add_argument("--smtp-port", type=int, default=1025, help="the SMTP sink's port")
    args = parser.parse_args()
    base = args.base_port
    options = StackOptions.from_environment(
        work_dir=args.work_dir,
        dispatchers=args.dispatchers,
        demo_data=not args.no_demo,
        ports=Ports(
            base,
            base + 1,
            base + 2,
            base + 3,
            base + 4,
            args.smtp_port,
            base + 25,
            webpush=base + 26,
            fcm=base + 27,
            notify=base + 28,
        ),
    )
    stack = DevStack(options)

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        print(stack.summary(), flush=True)
        while True:
            stack.supervise()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n[devstack] stopping…", flush=True)
    except StackError as error:
        print(f"\n[devstack] {error}", file=sys.stderr, flush=True)
        stack.stop()
        sys.exit(1)
    finally:
        stack.stop()
    print("[devstack] stopped; no processes left running.", flush=True)


if __name__ == "__main__":
    main()
