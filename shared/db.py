"""Database helpers: declarative base pieces, engines, and transactions that end at the edges."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Enum, MetaData, func
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Mapped, mapped_column

# Constraint names that Alembic can find again, the same in every service.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """Each service has its own metadata: its tables live in its own database."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now(), onupdate=utcnow
    )


def text_enum(enum: type[StrEnum], name: str, *, length: int) -> Enum:
    """A VARCHAR with a CHECK, not a native PostgreSQL enum: adding a value (a new channel or
    status) is then an ordinary constraint change inside a transactional migration. Stores the
    values, not the members' names."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def async_url(database_url: str) -> str:
    """Accept plain ``postgresql://`` URLs (as operators write them) and pick the asyncpg driver."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
    return url.render_as_string(hide_password=False)


# A transaction left idle this long is ended by PostgreSQL; work inside one transaction (a
# consumer's batch, say) must finish well within it.
TRANSACTION_IDLE_LIMIT_S = 60
STATEMENT_TIMEOUT_S = 30


def build_engine(
    database_url: str,
    *,
    application_name: str,
    pool_size: int = 10,
    pool_timeout_s: float = 10,
    pre_ping: bool = True,
) -> AsyncEngine:
    """``pre_ping=False`` saves a round trip per checkout, for a caller that retries after a
    connection error anyway (dispatch's delivery workers check out twice per chunk)."""
    return create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_timeout=pool_timeout_s,
        connect_args={
            "timeout": 10,
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(STATEMENT_TIMEOUT_S * 1000),
                "idle_in_transaction_session_timeout": str(TRANSACTION_IDLE_LIMIT_S * 1000),
            },
        },
    )


def build_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def session_scope(
    sessions: async_sessionmaker[AsyncSession],
    *,
    kept_on: tuple[type[BaseException], ...] = (),
) -> AsyncIterator[AsyncSession]:
    """One transaction: commit when the block succeeds, roll back when it raises.

    Requests and consumer handlers use this; services and repositories only flush.

    ``kept_on`` names refusals that follow a write which must survive them (a wrong code uses
    up a try): when the block raises one, the transaction commits first and the refusal then
    goes on to become the answer. Give such a write a transaction of its own
    (``shared.runtime.SessionsDep``), so that the refusal keeps the recorded attempt and nothing
    else the request did.
    """
    async with sessions() as session:
        try:
            try:
                yield session
            except kept_on:
                await session.commit()
                raise
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
