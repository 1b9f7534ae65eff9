"""Re-encrypt every encrypted value under the current data key, after a key rotation.

    python -m services.identity.reencrypt [--batch-size 500]

Rotation: put the new key first in ``IDENTITY_DATA_KEYS`` (keeping the old ones after it),
roll out, run this, then drop the old keys. Each batch is its own transaction with its rows
locked, so the service keeps running meanwhile; values already under the current key are left
alone, so the command can be interrupted and run again.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.accounts.two_factor import TOTP_PURPOSE
from services.identity.config import IdentitySettings
from services.identity.crypto import (
    ADDRESS_PURPOSE,
    DOCUMENT_PURPOSE,
    EMAIL_PURPOSE,
    NAME_PURPOSE,
    PENDING_ADDRESS_PURPOSE,
    PHONE_PURPOSE,
    SIGNING_KEY_PURPOSE,
    DataCipher,
)
from services.identity.models import AddressVerification, Member, VerificationDocument
from services.identity.tokens.repository import SigningKeyRepository
from shared.db import build_engine, build_sessionmaker, session_scope

Encrypted = Member | AddressVerification | VerificationDocument

# Every encrypted column, with the purpose its values are bound to.
ENCRYPTED_COLUMNS: dict[type[Encrypted], dict[str, str]] = {
    Member: {
        "email_encrypted": EMAIL_PURPOSE,
        "name_encrypted": NAME_PURPOSE,
        "phone_encrypted": PHONE_PURPOSE,
        "address_encrypted": ADDRESS_PURPOSE,
        "totp_secret_encrypted": TOTP_PURPOSE,
    },
    AddressVerification: {"address_encrypted": PENDING_ADDRESS_PURPOSE},
    VerificationDocument: {"content_encrypted": DOCUMENT_PURPOSE},
}


@dataclass
class Tally:
    table: str
    rows: int = 0
    reencrypted: int = 0
    already_current: int = 0


class EncryptedRowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_batch(
        self, model: type[Encrypted], *, after: uuid.UUID | None, limit: int
    ) -> Sequence[Encrypted]:
        query = select(model).order_by(model.id).limit(limit).with_for_update()
        if after is not None:
            query = query.where(model.id > after)
        rows = (await self._session.scalars(query)).all()
        return cast(Sequence[Encrypted], rows)


async def reencrypt_table(
    sessions: async_sessionmaker[AsyncSession],
    cipher: DataCipher,
    model: type[Encrypted],
    *,
    batch_size: int,
    progress: bool = True,
) -> Tally:
    columns = ENCRYPTED_COLUMNS[model]
    tally = Tally(model.__tablename__)
    last_id: uuid.UUID | None = None
    while True:
        async with session_scope(sessions) as session:
            rows = await EncryptedRowRepository(session).next_batch(
                model, after=last_id, limit=batch_size
            )
            for row in rows:
                for column, purpose in columns.items():
                    value: bytes | None = getattr(row, column)
                    if value is None:
                        continue
                    sealed = cipher.reencrypt(value, purpose=purpose)
                    if sealed is None:
                        tally.already_current += 1
                    else:
                        setattr(row, column, sealed)
                        tally.reencrypted += 1
            await session.flush()
        if not rows:
            return tally
        last_id = rows[-1].id
        tally.rows += len(rows)
        if progress:
            print(
                f"{tally.table}: {tally.rows} rows, {tally.reencrypted} values re-encrypted",
                flush=True,
            )


async def reencrypt_signing_keys(
    sessions: async_sessionmaker[AsyncSession], cipher: DataCipher
) -> Tally:
    """The token-signing keys, all in one transaction: there are only a few."""
    tally = Tally("signing_keys")
    async with session_scope(sessions) as session:
        for key in await SigningKeyRepository(session).all_for_update():
            tally.rows += 1
            sealed = cipher.reencrypt(key.private_key_encrypted, purpose=SIGNING_KEY_PURPOSE)
            if sealed is None:
                tally.already_current += 1
            else:
                key.private_key_encrypted = sealed
                tally.reencrypted += 1
        await session.flush()
    return tally


async def reencrypt_all(
    settings: IdentitySettings, *, batch_size: int, progress: bool = True
) -> list[Tally]:
    cipher = DataCipher.from_settings(settings)
    engine = build_engine(settings.database_url, application_name="identity-reencrypt")
    try:
        sessions = build_sessionmaker(engine)
        return [
            *[
                await reencrypt_table(
                    sessions, cipher, model, batch_size=batch_size, progress=progress
                )
                for model in ENCRYPTED_COLUMNS
            ],
            await reencrypt_signing_keys(sessions, cipher),
        ]
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--batch-size", type=int, default=500, choices=range(1, 10_001), metavar="1..10000"
    )
    args = parser.parse_args()
    settings = IdentitySettings()
    tallies = asyncio.run(reencrypt_all(settings, batch_size=args.batch_size))
    active = DataCipher.from_settings(settings).active_key_id
    print(f"Done: every value is now under key {active!r}.")
    for tally in tallies:
        print(
            f"  {tally.table}: {tally.rows} rows, {tally.reencrypted} values re-encrypted, "
            f"{tally.already_current} already current"
        )


if __name__ == "__main__":
    main()
