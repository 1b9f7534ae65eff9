"""Alembic environment of the alerts service: its own database, its own history."""

from services.alerts.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
