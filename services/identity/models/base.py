"""The declarative base of identity's database, and what its tables share."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import DeclarativeBase

from shared.db import new_metadata

WARD_CODE_LENGTH = 9


class Base(DeclarativeBase):
    metadata = new_metadata()


def sql_in(column: str, values: type[StrEnum]) -> str:
    """A CHECK constraint's condition: ``column`` holds one of the enum's values."""
    return f"{column} IN ({', '.join(repr(value.value) for value in values)})"
