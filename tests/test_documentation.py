"""The documents a newcomer reads first must stay true."""

from __future__ import annotations

from pathlib import Path

from deploy import settings_table
from shared.events import EVENT_TYPES, Topic

ROOT = Path(__file__).resolve().parent.parent


class TestReadme:
    def test_opens_with_the_two_commands(self) -> None:
        readme = (ROOT / "README.md").read_text()
        commands = readme.index("## Two commands")
        assert readme.index("make run") > commands
        assert readme.index("make test") > commands
        assert commands < readme.index("## How it fits together")

    def test_configuration_table_matches_the_settings_classes(self) -> None:
        readme = (ROOT / "README.md").read_text()
        start = readme.index(settings_table.BEGIN) + len(settings_table.BEGIN)
        end = readme.index(settings_table.END)
        assert readme[start:end].strip() == settings_table.render(), (
            "run: python -m deploy.settings_table --write"
        )


class TestArchitecture:
    def test_names_every_topic_and_event_type(self) -> None:
        architecture = (ROOT / "ARCHITECTURE.md").read_text()
        for topic in Topic:
            assert topic.value in architecture
        for event_type, _version in EVENT_TYPES:
            assert event_type in architecture
