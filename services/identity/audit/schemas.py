"""What the audit-log endpoint returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    at: datetime
    actor_id: uuid.UUID | None
    action: str
    subject: str
    details: dict[str, Any]
    previous_hash: str
    hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    chain_intact: bool
    broken_positions: list[int]
