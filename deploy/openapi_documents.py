"""Write every service's OpenAPI document to docs/api/, as the running services serve it.

    python -m deploy.openapi_documents          # (re)write docs/api/v1/<service>.json
    python -m deploy.openapi_documents --check  # fail if a file differs from its service

Partners read (and diff) the published files; ``info.version`` is the API's version
(``shared.app.API_VERSION``: the major in the folder, a minor for each compatible addition).
A test runs ``--check``'s comparison, so a change to an endpoint ships with its document:
after changing one, run ``make openapi``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shared.app import API_VERSION

FOLDER = Path(__file__).resolve().parent.parent / "docs" / "api" / f"v{API_VERSION.split('.')[0]}"


def services() -> dict[str, Callable[[], FastAPI]]:
    from services.alerts.app import create_app as alerts_app
    from services.dispatch.app import create_app as dispatch_app
    from services.gateway.app import create_app as gateway_app
    from services.geo.app import create_app as geo_app
    from services.identity.app import create_app as identity_app

    return {
        "identity": identity_app,
        "alerts": alerts_app,
        "geo": geo_app,
        "dispatch": dispatch_app,
        "gateway": gateway_app,
    }


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indents, a final newline (diffs stay readable)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def path_of(service: str) -> Path:
    return FOLDER / f"{service}.json"


def stale(built: dict[str, str]) -> list[str]:
    """The services whose published file is missing or differs from ``built``."""
    return [
        name
        for name, text in built.items()
        if not path_of(name).is_file() or path_of(name).read_text(encoding="utf-8") != text
    ]


def build() -> dict[str, str]:
    return {name: render(create().openapi()) for name, create in services().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a published file is stale")
    arguments = parser.parse_args(argv)
    built = build()
    if arguments.check:
        out_of_date = stale(built)
        for name in out_of_date:
            print(f"{path_of(name)} is out of date: run make openapi", file=sys.stderr)
        print(f"{len(built) - len(out_of_date)} of {len(built)} documents up to date")
        return 1 if out_of_date else 0
    FOLDER.mkdir(parents=True, exist_ok=True)
    for name, text in built.items():
        path_of(name).write_text(text, encoding="utf-8")
        print(f"wrote {path_of(name).relative_to(FOLDER.parents[2])} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
