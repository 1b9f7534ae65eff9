"""Import a boundary set from ONS GeoJSON files, from the command line or from the dev stack.

    python -m services.geo.boundaries.importer --database-url URL \\
        --wards wards.geojson --boroughs boroughs.geojson [--name NAME]

The files are checked whole before anything is written; the new set becomes current in the
same transaction. Files from an operator are trusted with their size: no feature caps here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError

from services.geo.boundaries.schemas import FeatureCollection, ImportSummary
from services.geo.boundaries.service import BoundaryService, Progress, quiet
from services.geo.errors import BoundarySetRefusedError, BoundarySetTooLargeError
from shared.db import build_engine, build_sessionmaker, session_scope
from shared.logs import configure_logging


def read_feature_collection(path: Path) -> FeatureCollection:
    """Parse one GeoJSON file; a file that is not a FeatureCollection refuses the import."""
    try:
        return FeatureCollection.model_validate_json(path.read_bytes())
    except ValidationError as error:
        raise BoundarySetRefusedError(
            [
                f"{path.name}: {'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}"
                for e in error.errors()[:20]
            ]
        ) from error


async def import_files(
    database_url: str,
    wards_path: Path,
    boroughs_path: Path,
    *,
    name: str | None = None,
    progress: Progress = quiet,
) -> ImportSummary:
    """Import ``wards_path`` and ``boroughs_path`` into the geo database at ``database_url``
    as a new current boundary set (named after the files' folder unless ``name`` is given)."""
    progress(f"reading {boroughs_path}")
    boroughs = await asyncio.to_thread(read_feature_collection, boroughs_path)
    progress(f"reading {wards_path}")
    wards = await asyncio.to_thread(read_feature_collection, wards_path)
    engine = build_engine(database_url, application_name="geo-importer", pool_size=1)
    try:
        async with session_scope(build_sessionmaker(engine)) as session:
            return await BoundaryService(session).import_boundary_set(
                name=name or wards_path.parent.name or wards_path.stem,
                boroughs=boroughs,
                wards=wards,
                limits=None,
                progress=progress,
            )
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.geo.boundaries.importer",
        description="Import ONS borough and ward GeoJSON as the current boundary set.",
    )
    parser.add_argument("--database-url", required=True, help="the geo service's database")
    parser.add_argument("--wards", required=True, type=Path, help="ward FeatureCollection")
    parser.add_argument("--boroughs", required=True, type=Path, help="borough FeatureCollection")
    parser.add_argument("--name", help="a label for this version (default: the folder's name)")
    args = parser.parse_args(argv)
    configure_logging("geo-importer", "WARNING", json=False)

    def progress(message: str) -> None:
        print(f"[geo-import] {message}", file=sys.stderr, flush=True)

    try:
        summary = asyncio.run(
            import_files(
                args.database_url, args.wards, args.boroughs, name=args.name, progress=progress
            )
        )
    except OSError as error:
        print(f"[geo-import] failed: {error}", file=sys.stderr)
        return 1
    except (BoundarySetRefusedError, BoundarySetTooLargeError) as error:
        print(f"[geo-import] refused: {error.detail}", file=sys.stderr)
        for problem in error.extensions.get("problems", []):
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"Imported {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
