"""Members' preferences: read and replaced by the member, changed by an unsubscribe link,
loaded for a whole recipient batch, forgotten when the member is erased.

Flushes, never commits: the request or the consumer owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.preferences.repository import (
    PreferencesRepository,
    UnsentDeliveryRepository,
)
from services.dispatch.preferences.rules import DEFAULT_PREFERENCES, Preferences, replan_unsent
from services.dispatch.preferences.tokens import UnsubscribeScope
from shared.db import utcnow
from shared.events import AlertContent
from shared.logs import get_logger

log = get_logger(__name__)


def _row_values(preferences: Preferences) -> dict[str, Any]:
    quiet = preferences.quiet_hours
    return {
        "severity_channels": {
            severity: sorted(kind.value for kind in kinds)
            for severity, kinds in sorted(preferences.severity_channels.items())
        },
        "quiet_start": quiet.start if quiet else None,
        "quiet_end": quiet.end if quiet else None,
        "digest_hour": preferences.digest_hour,
        "digest_severities": sorted(preferences.digest_severities),
        "language": preferences.language,
        "unsubscribed_all": preferences.unsubscribed_all,
        "unsubscribed_categories": sorted(preferences.unsubscribed_categories),
    }


class PreferencesService:
    def __init__(self, session: AsyncSession) -> None:
        self._preferences = PreferencesRepository(session)
        self._unsent = UnsentDeliveryRepository(session)

    async def of_member(self, member_id: uuid.UUID) -> Preferences:
        row = await self._preferences.get(member_id)
        return Preferences.from_model(row) if row is not None else DEFAULT_PREFERENCES

    async def of_members(self, member_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Preferences]:
        """Preferences of the members who set any (one query); the rest have the defaults."""
        return {
            row.member_id: Preferences.from_model(row)
            for row in await self._preferences.for_members(member_ids)
        }

    async def replace(self, member_id: uuid.UUID, preferences: Preferences) -> Preferences:
        row = await self._preferences.save(member_id, _row_values(preferences))
        log.info("dispatch.preferences.saved", member_id=str(member_id))
        saved = Preferences.from_model(row)
        # What is not sent yet goes out as the member now wants it.
        await self.replan_unsent(member_id, saved)
        return saved

    async def replan_unsent(
        self, member_id: uuid.UUID, preferences: Preferences | None = None
    ) -> int:
        """Apply the member's preferences to their deliveries not yet sent: channels they no
        longer want are dropped, quiet hours and the digest set when the rest are due (also
        for deliveries just released from ``pending``). Returns how many changed."""
        preferences = preferences or await self.of_member(member_id)
        now = utcnow()
        changes = [
            change
            for delivery, content in await self._unsent.of_member(member_id)
            if (
                change := replan_unsent(
                    delivery, preferences, AlertContent.model_validate(content), now
                )
            )
            is not None
        ]
        await self._unsent.apply(changes, reason="no longer wanted by the member's preferences")
        if changes:
            log.info(
                "dispatch.preferences.replanned", member_id=str(member_id), changed=len(changes)
            )
        return len(changes)

    async def unsubscribe(self, scope: UnsubscribeScope) -> Preferences:
        """Honour a signed unsubscribe link. Doing it twice changes nothing more."""
        row = await self._preferences.get(scope.member_id, for_update=True)
        current = Preferences.from_model(row) if row is not None else DEFAULT_PREFERENCES
        if scope.category is None:
            changed = replace(current, unsubscribed_all=True)
        else:
            changed = replace(
                current,
                unsubscribed_categories=current.unsubscribed_categories | {scope.category},
            )
        saved = await self.replace(scope.member_id, changed)
        log.info(
            "dispatch.preferences.unsubscribed",
            member_id=str(scope.member_id),
            scope="all" if scope.category is None else "category",
            category=scope.category,
        )
        return saved

    async def erase(self, member_id: uuid.UUID) -> int:
        return await self._preferences.delete_for_member(member_id)
