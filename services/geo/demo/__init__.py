"""A tiny invented geography for when the real London boundaries are not at hand.

"Demo Borough" (E09999991) is a square around Trafalgar Square split into four square wards,
E05999991 to E05999994. The codes follow the ONS pattern but no real area uses them.
"""

from __future__ import annotations

from pathlib import Path

from shared.logs import get_logger

log = get_logger(__name__)

DEMO_DIR = Path(__file__).resolve().parent
DEMO_BOROUGH_CODE = "E09999991"
DEMO_WARD_CODES = ("E05999991", "E05999992", "E05999993", "E05999994")

WARDS_FILE = "wards.geojson"
BOROUGHS_FILE = "boroughs.geojson"


def demo_paths() -> tuple[Path, Path]:
    """(wards, boroughs) of the demo geography."""
    return DEMO_DIR / WARDS_FILE, DEMO_DIR / BOROUGHS_FILE


def london_or_demo_paths(shared_data_dir: Path | None) -> tuple[Path, Path]:
    """(wards, boroughs): the real ones in ``shared_data_dir`` (a folder holding
    ``wards.geojson`` and ``boroughs.geojson``, such as ``shared/data/london``) when it has
    both, the demo geography's otherwise."""
    if shared_data_dir is not None:
        wards, boroughs = shared_data_dir / WARDS_FILE, shared_data_dir / BOROUGHS_FILE
        if wards.is_file() and boroughs.is_file():
            return wards, boroughs
        log.warning("geo.demo.boundaries_missing", folder=str(shared_data_dir))
    return demo_paths()
