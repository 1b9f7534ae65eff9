"""Organisations and their areas. Flushes, never commits."""

from __future__ import annotations

import csv
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.audit.service import AuditLog
from services.identity.errors import OrganisationExistsError, OrganisationNotFoundError
from services.identity.models import Organisation, OrganisationKind
from services.identity.organisations.repository import OrganisationRepository
from services.identity.organisations.schemas import OrganisationCreate
from shared.logs import get_logger
from shared.pagination import KeysetCursor

log = get_logger(__name__)


def borough_commands_from_csv(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Borough code -> (command name, sorted ward codes), read from a wards CSV with
    ``code``, ``borough_code`` and ``borough_name`` columns."""
    names: dict[str, str] = {}
    wards: dict[str, set[str]] = defaultdict(set)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            borough = row["borough_code"].strip()
            names[borough] = f"{row['borough_name'].strip()} borough command"
            wards[borough].add(row["code"].strip())
    return {code: (names[code], sorted(wards[code])) for code in names}


class OrganisationService:
    def __init__(self, session: AsyncSession) -> None:
        self._organisations = OrganisationRepository(session)
        self._audit = AuditLog(session)

    async def create(self, body: OrganisationCreate, *, actor_id: uuid.UUID) -> Organisation:
        organisation = await self._organisations.insert_if_free(
            kind=body.kind.value,
            code=body.code,
            name=body.name,
            ward_codes=sorted(set(body.ward_codes)),
        )
        if organisation is None:
            raise OrganisationExistsError()
        await self._audit.record(
            "organisation.created",
            actor_id=actor_id,
            subject=f"organisation:{organisation.id}",
            details={"kind": organisation.kind, "code": organisation.code},
        )
        log.info("identity.organisation.created", organisation_id=str(organisation.id))
        return organisation

    async def get(self, organisation_id: uuid.UUID) -> Organisation:
        organisation = await self._organisations.get(organisation_id)
        if organisation is None:
            raise OrganisationNotFoundError()
        return organisation

    async def list(
        self,
        *,
        kind: OrganisationKind | None,
        limit: int,
        offset: int,
        cursor: KeysetCursor | None = None,
    ) -> Sequence[Organisation]:
        return await self._organisations.list(
            kind=kind.value if kind else None, limit=limit, offset=offset, cursor=cursor
        )

    async def seed_borough_commands(self, path: Path) -> int:
        commands = borough_commands_from_csv(path)
        for code, (name, ward_codes) in commands.items():
            await self._organisations.upsert(
                kind=OrganisationKind.BOROUGH_COMMAND.value,
                code=code,
                name=name,
                ward_codes=ward_codes,
            )
        log.info("identity.borough_commands.seeded", count=len(commands), path=str(path))
        return len(commands)
