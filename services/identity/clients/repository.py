"""Every SQL statement about API clients."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import ApiClient


class ApiClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, client: ApiClient) -> ApiClient:
        self._session.add(client)
        await self._session.flush()
        return client

    async def get(self, client_id: uuid.UUID) -> ApiClient | None:
        return await self._session.get(ApiClient, client_id)

    async def list(self, *, organisation_id: uuid.UUID | None) -> Sequence[ApiClient]:
        query = select(ApiClient).order_by(ApiClient.created_at)
        if organisation_id is not None:
            query = query.where(ApiClient.organisation_id == organisation_id)
        return (await self._session.scalars(query.limit(500))).all()

    async def touch(self, client_id: uuid.UUID, at: datetime) -> None:
        await self._session.execute(
            update(ApiClient).where(ApiClient.id == client_id).values(last_used_at=at)
        )
