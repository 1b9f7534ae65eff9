"""The models and the migrations describe the same schema."""

from __future__ import annotations

from shared import migrations


def test_models_match_migrations(database_url: str) -> None:
    migrations.check("geo", database_url)
