"""Alembic environment of the dispatch service: its own database, its own history."""

from services.dispatch.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
