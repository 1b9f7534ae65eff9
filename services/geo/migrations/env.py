"""Alembic environment of the geo service: its own database, its own history."""

from services.geo.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
