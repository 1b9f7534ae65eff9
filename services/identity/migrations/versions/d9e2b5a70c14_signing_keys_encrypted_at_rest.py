"""signing keys encrypted at rest: private_key_pem becomes private_key_encrypted

The keys are sealed with the data keys the service itself uses (``IDENTITY_DATA_KEYS``; the
development key when unset outside production), so the migration job needs the same secret as
the service. Downgrading opens them again.

Revision ID: d9e2b5a70c14
Revises: c3a41f0e9d27
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.identity.config import IdentitySettings
from services.identity.crypto import SIGNING_KEY_PURPOSE, DataCipher

revision: str = "d9e2b5a70c14"
down_revision: str | None = "c3a41f0e9d27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

signing_keys = sa.table(
    "signing_keys",
    sa.column("kid", sa.String),
    sa.column("private_key_pem", sa.Text),
    sa.column("private_key_encrypted", sa.LargeBinary),
)


def _cipher() -> DataCipher:
    return DataCipher.from_settings(IdentitySettings())


def upgrade() -> None:
    op.add_column(
        "signing_keys", sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=True)
    )
    cipher = _cipher()
    connection = op.get_bind()
    for kid, pem in connection.execute(
        sa.select(signing_keys.c.kid, signing_keys.c.private_key_pem)
    ).all():
        connection.execute(
            signing_keys.update()
            .where(signing_keys.c.kid == kid)
            .values(
                private_key_encrypted=cipher.encrypt(pem.encode(), purpose=SIGNING_KEY_PURPOSE)
            )
        )
    op.alter_column("signing_keys", "private_key_encrypted", nullable=False)
    op.drop_column("signing_keys", "private_key_pem")


def downgrade() -> None:
    op.add_column("signing_keys", sa.Column("private_key_pem", sa.Text(), nullable=True))
    cipher = _cipher()
    connection = op.get_bind()
    for kid, sealed in connection.execute(
        sa.select(signing_keys.c.kid, signing_keys.c.private_key_encrypted)
    ).all():
        connection.execute(
            signing_keys.update()
            .where(signing_keys.c.kid == kid)
            .values(
                private_key_pem=cipher.decrypt(sealed, purpose=SIGNING_KEY_PURPOSE).decode()
            )
        )
    op.alter_column("signing_keys", "private_key_pem", nullable=False)
    op.drop_column("signing_keys", "private_key_encrypted")
