"""The migrations build exactly what the models describe."""

from __future__ import annotations

from shared import migrations


def test_models_and_migrations_have_not_drifted(database_url: str) -> None:
    migrations.check("dispatch", database_url)
