"""Alembic, one tree per service: ``python -m shared.migrations <service> [upgrade|check]``.

Every service's ``migrations/env.py`` calls :func:`run_env`, which takes a PostgreSQL advisory
lock first so that two replicas starting together cannot migrate at once.
"""

from __future__ import annotations

import argparse
import asyncio
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from shared.db import async_url, build_engine

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
SERVICES_WITH_DATABASES = ("identity", "alerts", "geo", "dispatch")


def alembic_config(service: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(service: str, database_url: str) -> None:
    command.upgrade(alembic_config(service, database_url), "head")


def revision(service: str, database_url: str, message: str) -> None:
    """Autogenerate a new migration from the difference between the models and the database."""
    command.revision(alembic_config(service, database_url), message=message, autogenerate=True)


def check(service: str, database_url: str) -> None:
    """Raise if the models and the migrations have drifted apart."""
    command.check(alembic_config(service, database_url))


def _advisory_lock_id(service: str) -> int:
    return zlib.crc32(f"tawny-migrations:{service}".encode())


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's ``env.py`` (online mode only: we always have a database)."""
    config = context.config
    service = config.attributes.get("service", "unknown")

    def run_with_connection(connection: Connection) -> None:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _advisory_lock_id(service)})
        # The lock belongs to the session, not the transaction: end the one that took it.
        connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                compare_type=True,
                transaction_per_migration=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.execute(
                text("SELECT pg_advisory_unlock(:id)"), {"id": _advisory_lock_id(service)}
            )
            connection.commit()

    async def run_async() -> None:
        url = config.get_main_option("sqlalchemy.url")
        assert url is not None
        engine = build_engine(url, application_name=f"{service}-migrations", pool_size=1)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run_with_connection)
        finally:
            await engine.dispose()

    asyncio.run(run_async())


def main() -> None:
    parser = argparse.ArgumentParser(description="Run one service's database migrations.")
    parser.add_argument("service", choices=SERVICES_WITH_DATABASES)
    parser.add_argument(
        "action", choices=["upgrade", "check", "revision"], nargs="?", default="upgrade"
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("-m", "--message", default="change", help="for revision")
    args = parser.parse_args()
    if args.action == "revision":
        revision(args.service, args.database_url, args.message)
    elif args.action == "check":
        check(args.service, args.database_url)
    else:
        upgrade(args.service, args.database_url)


if __name__ == "__main__":
    main()
