"""The hash-chained, append-only audit log."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.audit.service import GENESIS_HASH, AuditLog
from services.identity.config import IdentitySettings
from tests.identity.factories import bearer, create_member, sign_in_body


class TestAuditLog:
    async def test_staff_actions_are_chained_and_readable_by_platform_admins(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        admin_id, admin_email = await create_member(sessions, settings, "platform_admin")
        admin = bearer((await sign_in_body(client, admin_email))["access_token"])
        member_id, _ = await create_member(sessions, settings, "resident")
        await client.post(
            f"/members/{member_id}/suspension", json={"reason": "testing"}, headers=admin
        )

        response = await client.get("/audit-log", params={"limit": 500}, headers=admin)

        assert response.status_code == 200
        page = response.json()
        assert page["chain_intact"] is True
        assert page["broken_positions"] == []
        [entry] = [e for e in page["entries"] if e["subject"] == f"member:{member_id}"]
        assert entry["action"] == "member.suspended"
        assert entry["actor_id"] == str(admin_id)
        assert entry["details"] == {"reason": "testing"}
        for earlier, later in zip(page["entries"], page["entries"][1:], strict=False):
            assert later["previous_hash"] == earlier["hash"]

    async def test_rows_cannot_be_changed_or_deleted(self, session: AsyncSession) -> None:
        entry = await AuditLog(session).record("test.action", actor_id=None, subject="test:1")
        for statement in (
            "UPDATE audit_log SET action = 'forged' WHERE position = :position",
            "DELETE FROM audit_log WHERE position = :position",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                async with session.begin_nested():
                    await session.execute(text(statement), {"position": entry.position})

    async def test_tampering_by_the_database_owner_breaks_the_chain(
        self, session: AsyncSession
    ) -> None:
        log = AuditLog(session)
        first = await log.record("test.one", actor_id=uuid.uuid4(), subject="test:1")
        second = await log.record("test.two", actor_id=None, subject="test:2", details={"a": 1})
        assert second.previous_hash == first.hash
        assert len(first.hash) == 64
        first_position, second_position = first.position, second.position

        await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await session.execute(
            text("UPDATE audit_log SET details = '{\"a\": 2}' WHERE position = :position"),
            {"position": second_position},
        )
        session.expire_all()

        entries, broken = await log.page(after=first_position - 1, limit=10)
        assert [entry.position for entry in entries][:2] == [first_position, second_position]
        assert broken == [second_position]

    async def test_the_first_entry_chains_from_the_genesis_hash(self) -> None:
        assert GENESIS_HASH == "0" * 64
