"""several devices: an endpoint per browser and app installation, a delivery per endpoint

Endpoints get an id and a device key (empty for email and SMS, the one address per member; a
hash of the subscription's endpoint URL or of the FCM token otherwise), unique per member and
channel. Deliveries name the endpoint they go to, and their uniqueness key gains it. Existing
endpoints keep their addresses, and existing deliveries are pointed at the endpoint their
member had on the channel (the only one there was), so a batch delivered again after the
upgrade still records nothing twice.

Revision ID: b5d2e8f1a3c7
Revises: d52e8b07a1f4
Create Date: 2026-12-07 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b5d2e8f1a3c7"
down_revision: str | None = "d52e8b07a1f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "member_endpoints",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
    )
    op.alter_column("member_endpoints", "id", server_default=None)
    op.add_column(
        "member_endpoints",
        sa.Column("device_key", sa.String(length=64), server_default="", nullable=False),
    )
    # The same keys services.dispatch.models.device_key computes.
    op.execute(
        "UPDATE member_endpoints SET device_key = "
        "encode(sha256(convert_to((address::jsonb)->>'endpoint', 'UTF8')), 'hex') "
        "WHERE channel = 'webpush'"
    )
    op.execute(
        "UPDATE member_endpoints SET device_key = encode(sha256(convert_to(address, 'UTF8')), "
        "'hex') WHERE channel = 'fcm'"
    )
    op.drop_constraint("pk_member_endpoints", "member_endpoints", type_="primary")
    op.create_primary_key("pk_member_endpoints", "member_endpoints", ["id"])
    op.create_unique_constraint(
        op.f("uq_member_endpoints_member_id_channel_device_key"),
        "member_endpoints",
        ["member_id", "channel", "device_key"],
    )

    op.add_column("deliveries", sa.Column("endpoint_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE deliveries AS d SET endpoint_id = e.id FROM member_endpoints AS e "
        "WHERE e.member_id = d.member_id AND e.channel = d.channel AND d.status <> 'pending'"
    )
    op.drop_constraint(
        "uq_deliveries_alert_id_member_id_channel", "deliveries", type_="unique"
    )
    op.create_unique_constraint(
        op.f("uq_deliveries_alert_id_member_id_channel_endpoint_id"),
        "deliveries",
        ["alert_id", "member_id", "channel", "endpoint_id"],
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    # One endpoint per member and channel again: the most recently registered device stays,
    # and one delivery per alert, member and channel (the furthest along).
    op.execute(
        "DELETE FROM deliveries AS d USING deliveries AS o "
        "WHERE o.alert_id = d.alert_id AND o.member_id = d.member_id "
        "AND o.channel = d.channel AND (o.sent_at IS NOT NULL, o.id) > (d.sent_at IS NOT NULL, d.id)"
    )
    op.drop_constraint(
        op.f("uq_deliveries_alert_id_member_id_channel_endpoint_id"), "deliveries", type_="unique"
    )
    op.create_unique_constraint(
        "uq_deliveries_alert_id_member_id_channel",
        "deliveries",
        ["alert_id", "member_id", "channel"],
    )
    op.drop_column("deliveries", "endpoint_id")
    op.execute(
        "DELETE FROM member_endpoints AS e USING member_endpoints AS o "
        "WHERE o.member_id = e.member_id AND o.channel = e.channel "
        "AND (o.created_at, o.id) > (e.created_at, e.id)"
    )
    op.drop_constraint(
        op.f("uq_member_endpoints_member_id_channel_device_key"), "member_endpoints", type_="unique"
    )
    op.drop_constraint("pk_member_endpoints", "member_endpoints", type_="primary")
    op.create_primary_key("pk_member_endpoints", "member_endpoints", ["member_id", "channel"])
    op.drop_column("member_endpoints", "device_key")
    op.drop_column("member_endpoints", "id")
