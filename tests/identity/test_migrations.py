"""The migrations build exactly what the models describe, and the audit-retention migration
goes down and up again (the log refuses every DELETE again once it is undone)."""

from __future__ import annotations

from alembic import command

from shared import migrations
from tests.support.infrastructure import Infrastructure

BEFORE_AUDIT_RETENTION = "e4c2a8f61b37"


def test_models_and_migrations_have_not_drifted(database_url: str) -> None:
    migrations.check("identity", database_url)


def test_audit_retention_goes_down_and_up_again(infrastructure: Infrastructure) -> None:
    url = infrastructure.fresh_database("identity")
    config = migrations.alembic_config("identity", url)
    command.downgrade(config, BEFORE_AUDIT_RETENTION)
    command.upgrade(config, "head")
    migrations.check("identity", url)
