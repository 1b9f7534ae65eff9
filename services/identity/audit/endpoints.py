"""The audit log, for platform admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.identity.audit.schemas import AuditEntry, AuditPage
from services.identity.audit.service import AuditLog
from services.identity.dependencies import PlatformAdminDep
from shared.errors import problem_responses
from shared.runtime import SessionDep

router = APIRouter(tags=["audit"])


@router.get(
    "/audit-log",
    summary="Read the audit log of staff and admin actions (platform admins)",
    description=(
        "Oldest first, from after `after`. Each page is checked against the hash chain: "
        "`chain_intact` is false and `broken_positions` names entries that were altered."
    ),
    responses=problem_responses(401, 403, 422),
)
async def read_audit_log(
    caller: PlatformAdminDep,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    entries, broken = await AuditLog(session).page(after=after, limit=limit)
    return AuditPage(
        entries=[AuditEntry.model_validate(entry) for entry in entries],
        chain_intact=not broken,
        broken_positions=broken,
    )
