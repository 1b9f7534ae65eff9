"""Alembic environment of the identity service: its own database, its own history."""

from services.identity.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
