"""The alerts migrations: they match the models, and they can be undone and redone."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import migrations
from tests.support.infrastructure import Infrastructure


def test_models_and_migrations_have_not_drifted(database_url: str) -> None:
    migrations.check("alerts", database_url)


def test_migrations_downgrade_to_nothing_and_upgrade_again(
    infrastructure: Infrastructure,
) -> None:
    url = infrastructure.fresh_database("alerts")
    config = migrations.alembic_config("alerts", url)

    command.downgrade(config, "base")
    migrations.upgrade("alerts", url)
    migrations.check("alerts", url)


VALID_ROW = {
    "state": "draft",
    "msg_type": "Alert",
    "crime_type": "burglary",
    "severity": "Moderate",
    "urgency": "Expected",
    "target_ward_codes": ["E05000001"],
    "body": "Lock your doors.",
    "published_at": None,
    "references_id": None,
    "categories": ["Security"],
    "channels": ["email"],
    "target_borough_codes": [],
    "scheduled_for": None,
}


class TestDatabaseConstraints:
    """The migrated database itself refuses what the API would never write."""

    async def test_a_valid_row_is_accepted(self, session: AsyncSession) -> None:
        await insert_alert(session, **VALID_ROW)

    @pytest.mark.parametrize(
        "override",
        [
            {"state": "sent"},
            {"msg_type": "Gossip"},
            {"crime_type": "jaywalking"},
            {"severity": "moderate"},
            {"urgency": "Soon"},
            {"target_ward_codes": []},
            {"target_ward_codes": [], "target_borough_codes": ["E09000001"], "state": "shouted"},
            {"state": "scheduled"},
            {"msg_type": "Update"},
            {"references_id": "self"},
            {"categories": ["Crime"]},
            {"categories": []},
            {"channels": ["pigeon"]},
            {"channels": []},
            {"state": "cancelled", "published_at": None},
            {"body": ""},
            {"state": "published", "published_at": None},
        ],
        ids=lambda override: ",".join(f"{k}={v!r}" for k, v in override.items()),
    )
    async def test_an_invalid_row_is_refused(
        self, session: AsyncSession, override: dict[str, object]
    ) -> None:
        with pytest.raises(IntegrityError):
            await insert_alert(session, **{**VALID_ROW, **override})

    async def test_a_release_state_must_be_a_workflow_state(self, session: AsyncSession) -> None:
        await insert_alert(session, **VALID_ROW)

        with pytest.raises(IntegrityError):
            # Only the row this transaction wrote has created_at = now().
            await session.execute(
                text("UPDATE alerts SET release_state = 'gone' WHERE created_at = now()")
            )


async def insert_alert(session: AsyncSession, **columns: object) -> None:
    # Raw SQL on purpose: the ORM's enum types would refuse bad values before the database.
    alert_id = uuid.uuid4()
    if columns.get("references_id") == "self":
        columns["references_id"] = alert_id
    await session.execute(
        text(
            "INSERT INTO alerts (id, identifier, sender, cap_status, scope, language, categories,"
            " event, response_types, certainty, expires, translations, area_desc,"
            " target_borough_codes, target_circles, target_polygons, audience, channels,"
            " suspects, no_victim_details_confirmed, author_is_officer, approver_ids,"
            " references_id, scheduled_for,"
            " state, msg_type, headline, body, crime_type, severity,"
            " urgency, target_ward_codes, author_id, author_pseudonym, published_at)"
            " VALUES (:id, :identifier, 'tests', 'Actual', 'Public', 'en-GB',"
            " :categories, 'Burglary', '{}', 'Observed', now() + interval '7 days', '[]',"
            " 'Wards', :target_borough_codes, '[]', '[]', 'residents', :channels, '[]', true,"
            " true, '{}', :references_id, :scheduled_for,"
            " :state, :msg_type, 'Headline', :body, :crime_type, :severity,"
            " :urgency, :target_ward_codes, :author_id, 'PC Owl', :published_at)"
        ),
        {
            "id": alert_id,
            "identifier": f"urn:uuid:{alert_id}",
            "author_id": uuid.uuid4(),
            **columns,
        },
    )
