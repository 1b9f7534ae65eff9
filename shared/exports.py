"""A member's data export, across services. Identity answers ``GET /members/me/export`` with its
own part and stages ``member.export_requested`` (member id, export id); alerts, geo and dispatch
each collect what they hold about the member into an ``export_parts`` row under that export id,
and serve it to that member at ``GET /members/me/exports/{export_id}`` in the one envelope
below (``ExportPart``; 202 while it is being collected); each service documents its ``data``
schema in its OpenAPI. The web client puts the four parts into one archive. A part is kept
``EXPORT_PART_RETENTION`` and deleted with the member's other data when they are erased."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import DateTime, delete, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import utcnow

# Long enough to download, short enough not to become a second copy of everything.
EXPORT_PART_RETENTION = timedelta(days=7)

DataT = TypeVar("DataT", bound=BaseModel)


class ExportPart(BaseModel, Generic[DataT]):
    """One service's part of a member's export."""

    service: str = Field(description="The service whose data this is")
    export_id: uuid.UUID
    generated_at: datetime
    data: DataT


def still_collecting(export_id: uuid.UUID) -> JSONResponse:
    """The answer while a part is not there: 202, ask again shortly. The same for an export id
    the caller never asked for, so an answer never says whose an export is."""
    return JSONResponse(
        {"export_id": str(export_id), "status": "collecting"},
        status_code=202,
        headers={"Retry-After": "1", "Cache-Control": "no-store"},
    )


STILL_COLLECTING_RESPONSE: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "The part is being collected (or there is no such export of yours): "
        "ask again after Retry-After",
        "content": {
            "application/json": {
                "example": {
                    "export_id": "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                    "status": "collecting",
                }
            }
        },
    }
}


class ExportPartMixin:
    """Columns of a service's ``export_parts`` table; each service maps it onto its base."""

    __tablename__ = "export_parts"

    if TYPE_CHECKING:

        def __init__(self, **columns: Any) -> None: ...

    export_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExportPartRepository:
    """Every SQL statement about export parts. Flushes, never commits."""

    def __init__(self, session: AsyncSession, model: type[ExportPartMixin]) -> None:
        self._session = session
        self._model = model

    async def save(self, *, export_id: uuid.UUID, member_id: uuid.UUID, data: BaseModel) -> None:
        """Keep the part (a redelivered request keeps the first one)."""
        await self._session.execute(
            insert(self._model)
            .values(export_id=export_id, member_id=member_id, data=data.model_dump(mode="json"))
            .on_conflict_do_nothing(index_elements=["export_id"])
        )

    async def of_member(self, export_id: uuid.UUID, member_id: uuid.UUID) -> ExportPartMixin | None:
        found: ExportPartMixin | None = await self._session.scalar(
            select(self._model).where(
                self._model.export_id == export_id, self._model.member_id == member_id
            )
        )
        return found

    async def delete_for_member(self, member_id: uuid.UUID) -> int:
        result = await self._session.execute(
            delete(self._model).where(self._model.member_id == member_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def delete_older_than(self, generated_before: datetime) -> int:
        result = await self._session.execute(
            delete(self._model).where(self._model.generated_at < generated_before)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
