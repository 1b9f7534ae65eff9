from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.config import IdentitySettings
from services.identity.errors import ServiceUnavailableError, StateConflictError
from services.identity.members.service import MemberService, random_pseudonym
from services.identity.models import Member
from tests.identity.factories import PASSWORD, email_index, unique_email


def pseudonyms(*names: str) -> Callable[[], str]:
    supply: Iterator[str] = iter(names)
    return lambda: next(supply)


class TestPseudonyms:
    def test_random_pseudonym_has_four_to_six_digits(self) -> None:
        for _ in range(500):
            assert re.fullmatch(r"Neighbour [1-9]\d{3,5}", random_pseudonym())

    async def test_a_taken_pseudonym_is_retried(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        first, second = unique_email(), unique_email()
        await MemberService(session, settings, new_pseudonym=pseudonyms("Neighbour 0001")).register(
            first, PASSWORD
        )

        service = MemberService(
            session, settings, new_pseudonym=pseudonyms("Neighbour 0001", "Neighbour 0002")
        )
        await service.register(second, PASSWORD)

        member = await session.scalar(
            select(Member).where(Member.email_index == email_index(second))
        )
        assert member is not None
        assert member.pseudonym == "Neighbour 0002"

    async def test_gives_up_when_no_pseudonym_is_free(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        await MemberService(session, settings, new_pseudonym=lambda: "Neighbour 0003").register(
            unique_email(), PASSWORD
        )
        crowded = MemberService(session, settings, new_pseudonym=lambda: "Neighbour 0003")

        with pytest.raises(ServiceUnavailableError):
            await crowded.register(unique_email(), PASSWORD)


class TestSeedService:
    async def test_seed_creates_a_verified_member_once(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        email = unique_email("officer")
        service = MemberService(session, settings)

        created = await service.seed(email.upper(), PASSWORD, ["officer"])
        again = await service.seed(email, PASSWORD, ["officer"])

        assert created is not None
        assert service.email_of(created) == email
        assert created.email_index == email_index(email)
        assert email.encode() not in created.email_encrypted
        assert created.roles == ["officer"]
        assert created.email_verified
        assert again is None


class TestImportVerified:
    """Seeding a population: verified members in sets, found again on a second run."""

    async def test_imports_verified_members_and_a_second_run_finds_them(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        service = MemberService(session, settings)
        emails = [unique_email() for _ in range(3)]
        batch = [(email.upper(), f"Imported {uuid.uuid4().hex[:12]}") for email in emails]

        ids = await service.import_verified(batch, password_hash="x", roles=["resident"])
        again = await service.import_verified(batch, password_hash="x", roles=["resident"])

        assert again == ids
        assert sorted(ids) == sorted(emails)
        members = (
            await session.scalars(select(Member).where(Member.id.in_(list(ids.values()))))
        ).all()
        assert len(members) == 3
        assert all(m.email_verified_at is not None and m.roles == ["resident"] for m in members)
        assert {service.email_of(m) for m in members} == set(emails)

    async def test_refuses_a_bad_address_before_writing_anything(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        good = unique_email()

        with pytest.raises(ValidationError):
            await MemberService(session, settings).import_verified(
                [(good, "Imported good"), ("not an address", "Imported bad")],
                password_hash="x",
                roles=["resident"],
            )

        found = await session.scalar(select(Member).where(Member.email_index == email_index(good)))
        assert found is None

    async def test_a_pseudonym_taken_by_another_member_is_a_conflict(
        self, session: AsyncSession, settings: IdentitySettings
    ) -> None:
        taken = f"Imported {uuid.uuid4().hex[:12]}"
        service = MemberService(session, settings)
        await service.import_verified(
            [(unique_email(), taken)], password_hash="x", roles=["resident"]
        )

        with pytest.raises(StateConflictError):
            await service.import_verified(
                [(unique_email(), taken)], password_hash="x", roles=["resident"]
            )
