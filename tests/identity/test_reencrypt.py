"""Key rotation of personal data: ``python -m services.identity.reencrypt`` seals every
encrypted value again under the first key of IDENTITY_DATA_KEYS."""

from __future__ import annotations

import asyncio
import base64
import os
import sys

import pytest
from sqlalchemy import select

from services.identity.config import IdentitySettings
from services.identity.crypto import NAME_PURPOSE, PENDING_ADDRESS_PURPOSE, PersonalData
from services.identity.members.schemas import PersonalDetails
from services.identity.members.service import MemberService
from services.identity.models import AddressVerification, Member, SigningKey
from services.identity.reencrypt import main, reencrypt_all
from services.identity.tokens.service import SigningKeyService
from shared.db import build_engine, build_sessionmaker, session_scope
from tests.support.infrastructure import Infrastructure


def key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


class TestReencrypt:
    async def test_every_value_moves_to_the_new_key_and_still_opens(
        self, infrastructure: Infrastructure
    ) -> None:
        # A database of its own: the rotation touches every row, and the session's shared
        # database belongs to the app running under the development key.
        database_url = await asyncio.to_thread(infrastructure.fresh_database, "identity")
        old_key, new_key = f"old:{key()}", f"new:{key()}"
        before = IdentitySettings(database_url=database_url, environment="test", data_keys=old_key)
        after = IdentitySettings(
            database_url=database_url, environment="test", data_keys=f"{new_key},{old_key}"
        )
        engine = build_engine(database_url, application_name="reencrypt-test", pool_size=2)
        sessions = build_sessionmaker(engine)
        try:
            async with session_scope(sessions) as session:
                service = MemberService(session, before)
                member = await service.seed(
                    "sam@example.com", "a sturdy passphrase 42", ["resident"]
                )
                assert member is not None
                await service.set_personal_details(
                    member, PersonalDetails(name="Sam Taylor", phone="020 7946 0000")
                )
                session.add(
                    AddressVerification(
                        member_id=member.id,
                        method="letter",
                        status="pending",
                        address_encrypted=PersonalData.from_settings(before).seal_json(
                            {"postcode": "E1 8AA"}, purpose=PENDING_ADDRESS_PURPOSE
                        ),
                        ward_code="E05009317",
                        h3_cell="87195da49ffffff",
                    )
                )
                kid = await SigningKeyService(session, before).ensure_active_key()

            first = await reencrypt_all(after, batch_size=1, progress=False)
            second = await reencrypt_all(after, batch_size=100, progress=False)

            by_table = {tally.table: tally for tally in first}
            assert (by_table["members"].rows, by_table["members"].reencrypted) == (1, 3)
            assert by_table["address_verifications"].reencrypted == 1
            assert sum(tally.reencrypted for tally in second) == 0
            assert by_table["signing_keys"].reencrypted == 1
            assert sum(tally.already_current for tally in second) == 5
            personal = PersonalData.from_settings(
                IdentitySettings(environment="test", data_keys=new_key)
            )
            async with sessions() as session:
                row = await session.scalar(select(Member))
                assert row is not None and row.name_encrypted is not None
                assert row.email_encrypted.startswith(b"new:")
                assert personal.open_email(row.email_encrypted) == "sam@example.com"
                assert personal.open_text(row.name_encrypted, purpose=NAME_PURPOSE) == "Sam Taylor"
                pending = await session.scalar(select(AddressVerification))
                assert pending is not None
                assert personal.open_json(
                    pending.address_encrypted, purpose=PENDING_ADDRESS_PURPOSE
                ) == {"postcode": "E1 8AA"}
                signing_key = await session.get(SigningKey, kid)
                assert signing_key is not None
                assert signing_key.private_key_encrypted.startswith(b"new:")
        finally:
            await engine.dispose()


class TestReencryptCommand:
    def test_it_reports_progress_and_a_summary(
        self,
        infrastructure: Infrastructure,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        database_url = infrastructure.fresh_database("identity")
        old_key, new_key = f"old:{key()}", f"new:{key()}"

        async def seed() -> None:
            settings = IdentitySettings(
                database_url=database_url, environment="test", data_keys=old_key
            )
            engine = build_engine(database_url, application_name="reencrypt-test", pool_size=1)
            try:
                async with session_scope(build_sessionmaker(engine)) as session:
                    await MemberService(session, settings).seed(
                        "robin@example.com", "a sturdy passphrase 42", ["resident"]
                    )
            finally:
                await engine.dispose()

        asyncio.run(seed())
        monkeypatch.setenv("IDENTITY_DATABASE_URL", database_url)
        monkeypatch.setenv("IDENTITY_DATA_KEYS", f"{new_key},{old_key}")
        monkeypatch.setenv("TAWNY_ENV", "test")
        monkeypatch.setattr(sys, "argv", ["reencrypt", "--batch-size", "50"])

        main()

        output = capsys.readouterr().out
        assert "members: 1 rows, 1 values re-encrypted" in output
        assert "Done: every value is now under key 'new'." in output
        assert "  members: 1 rows, 1 values re-encrypted, 0 already current" in output
