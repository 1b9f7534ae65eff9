"""Print the README's configuration table from the settings classes themselves.

    python -m deploy.settings_table          # print the table
    python -m deploy.settings_table --check  # fail if README.md's table is out of date

The table sits in README.md between the markers below; a test runs ``--check``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import AliasChoices, SecretStr
from pydantic_settings import BaseSettings

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- settings-table:begin -->"
END = "<!-- settings-table:end -->"


def settings_classes() -> list[tuple[str, type[BaseSettings]]]:
    from services.alerts.config import AlertsSettings
    from services.dispatch.config import DispatchSettings
    from services.gateway.config import GatewaySettings
    from services.geo.config import GeoSettings
    from services.identity.config import IdentitySettings

    return [
        ("identity", IdentitySettings),
        ("alerts", AlertsSettings),
        ("geo", GeoSettings),
        ("dispatch", DispatchSettings),
        ("gateway", GatewaySettings),
    ]


def _env_name(settings: type[BaseSettings], field_name: str) -> str:
    field = settings.model_fields[field_name]
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    if isinstance(alias, str):
        return alias
    prefix = settings.model_config.get("env_prefix", "")
    return f"{prefix}{field_name}".upper()


def _default(settings: type[BaseSettings], field_name: str) -> str:
    field = settings.model_fields[field_name]
    if field.is_required():
        return "required"
    default = field.get_default(call_default_factory=True)
    if default is None or default == "":
        return "unset"
    if isinstance(default, SecretStr):
        return "unset" if not default.get_secret_value() else "(secret)"
    value = str(getattr(default, "value", default))
    # A default computed from where the checkout lies is shown relative to it, so the table
    # reads the same in every clone.
    value = value.replace(str(README.parent.parent), "<checkout>/..")
    return f"`{value}`"


def render() -> str:
    rows: dict[str, list[str]] = {}
    for service, settings in settings_classes():
        for field_name, field in settings.model_fields.items():
            env = _env_name(settings, field_name)
            description = (field.description or "").replace("|", "\\|")
            if env in rows:
                if service not in rows[env][0]:
                    rows[env][0] += f", {service}"
                continue
            rows[env] = [service, _default(settings, field_name), description]
    shared = {env: row for env, row in rows.items() if row[0].count(",") >= 2}
    lines = ["| variable | used by | default | meaning |", "|---|---|---|---|"]
    for env, (services, default, description) in sorted(
        rows.items(), key=lambda item: (item[0] not in shared, item[0])
    ):
        used_by = "all services" if env in shared else services
        lines.append(f"| `{env}` | {used_by} | {default} | {description} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="The README's configuration table.")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    table = render()
    readme = README.read_text()
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    current = readme[start:end].strip()
    if args.check:
        if current != table:
            sys.exit("README.md's settings table is stale: python -m deploy.settings_table --write")
        return
    if args.write:
        README.write_text(readme[:start] + "\n" + table + "\n" + readme[end:])
        return
    print(table)


if __name__ == "__main__":
    main()
