"""Autogenerate a service's next migration against a throwaway embedded PostgreSQL.

    python -m deploy.new_migration geo -m "add subscriptions"

It upgrades a fresh database to the current head, then compares the models with it; review
the generated file before committing it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from deploy.infra import create_databases, database_url_for, embedded_postgres
from shared import migrations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("service", choices=migrations.SERVICES_WITH_DATABASES)
    parser.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="tawny-migration-") as work_dir,
        embedded_postgres(Path(work_dir) / "pg", durable=False) as postgres,
    ):
        create_databases(postgres.url, [args.service])
        url = database_url_for(postgres.url, args.service)
        migrations.upgrade(args.service, url)
        migrations.revision(args.service, url, args.message)


if __name__ == "__main__":
    main()
