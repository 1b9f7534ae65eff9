"""channel kinds: web push, mobile push, SMS and letters

Revision ID: 5c1f0a7e9b21
Revises: 06b42864d449
Create Date: 2026-11-23 14:55:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c1f0a7e9b21"
down_revision: str | None = "06b42864d449"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = "('email')"
_AFTER = "('email', 'webpush', 'fcm', 'sms', 'letter')"
_CONSTRAINTS = {
    "member_endpoints": "endpoint_channel",
    "deliveries": "delivery_channel",
}


def _replace_checks(allowed: str) -> None:
    for table, constraint in _CONSTRAINTS.items():
        op.drop_constraint(constraint, table, type_="check")
        op.create_check_constraint(constraint, table, f"channel IN {allowed}")


def upgrade() -> None:
    _replace_checks(_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE channel <> 'email'")
    op.execute("DELETE FROM member_endpoints WHERE channel <> 'email'")
    _replace_checks(_BEFORE)
