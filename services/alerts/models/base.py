"""The declarative base of the alerts database, and what its tables share: column sizes and
enum columns stored as text."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum
from sqlalchemy.orm import DeclarativeBase

from shared.db import new_metadata
from shared.db import text_enum as shared_text_enum

PSEUDONYM_MAX_LENGTH = 100
WARD_CODE_LENGTH = 9


class Base(DeclarativeBase):
    metadata = new_metadata()


def text_enum(enum: type[StrEnum], name: str) -> Enum:
    """``shared.db.text_enum`` at the length of every enum column of the alerts database."""
    return shared_text_enum(enum, name, length=32)


def sql_values(enum: type[StrEnum]) -> str:
    """The enum's values as the items of an SQL list, for CHECK constraints."""
    return ", ".join(f"'{member.value}'" for member in enum)
