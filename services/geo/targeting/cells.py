"""H3 covers of areas, and the integer keys that make "which stored cells meet these target
cells" a handful of B-tree range scans.

A cover is the set of resolution-``INDEX_RESOLUTION`` cells that an area touches, split into
*interior* cells (wholly inside the area) and *boundary* cells (crossing its edge). Each part
is compacted on its own (seven interior siblings become their interior parent), so a cover
mixes resolutions but stands for an exact set of fine cells: H3 children do not tile their
parent geometrically, so the logical hierarchy, not the parent hexagon, is what a coarse cell
means here.

Two areas can only intersect if their covers share a fine cell, and they certainly intersect
if they share a fine cell that is interior to both. Shared cells where either side is a
boundary cell need the exact shapely test.

Keys: within one resolution the 64-bit H3 index orders cells so that all descendants of a
cell at a finer resolution form one contiguous range (the digits below the cell's resolution
run from 0 to 6). Each stored cell is keyed by its *first* descendant at the index resolution
(``key``) and its own resolution (``res``). Then, for a target cell T:

* stored cells under T (or equal to it) have ``key`` in ``[first(T), last(T)]``: a range scan;
* stored cells above T are T's ancestors, a few exact ``(key, res)`` lookups.

Resolution 8 (cells of about 0.74 km², edges about 460 m): a 1 km circle is about a dozen
cells and a ward a few dozen. Finer cells would shortlist more tightly but multiply the index
rows of every watched circle; the exact test on the shortlist is vectorised and cheap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import h3.api.basic_int as h3
import numpy as np
from shapely.geometry import Polygon, mapping

from services.geo.targeting.shapes import Circle

INDEX_RESOLUTION = 8

_RES_SHIFT = 52
_RES_MASK = 0xF << _RES_SHIFT
_DIGIT_BITS = 3
_MAX_RES = 15
# A cell's circumradius is measured on the cell at the centre; its neighbours within a few
# kilometres differ by well under 1 %, so 5 % is a generous margin.
_CIRCUMRADIUS_MARGIN = 1.05
# Shapely's planar edges and H3's spherical ones differ by millimetres at these sizes; grow
# the shape by about a metre before taking touching cells, shrink it before taking interior
# ones, so that neither side is ever optimistic.
_EDGE_SLACK_DEGREES = 1e-5


@dataclass(frozen=True)
class Cover:
    interior: list[int] = field(default_factory=list)
    boundary: list[int] = field(default_factory=list)

    def rows(self) -> list[tuple[int, int, bool]]:
        """(key, res, interior) per compacted cell: what the index stores."""
        return [(cell_key(c), h3.get_resolution(c), True) for c in self.interior] + [
            (cell_key(c), h3.get_resolution(c), False) for c in self.boundary
        ]


def _digit_mask(from_res: int, to_res: int) -> int:
    """Bits of the digits for resolutions ``from_res``..``to_res`` (inclusive)."""
    mask = 0
    for digit in range(from_res, to_res + 1):
        mask |= 0b111 << ((_MAX_RES - digit) * _DIGIT_BITS)
    return mask


def _at_resolution(cell: int, res: int) -> int:
    return (cell & ~_RES_MASK) | (res << _RES_SHIFT)


def cell_key(cell: int) -> int:
    """The first descendant of ``cell`` at the index resolution (itself if already there)."""
    res = h3.get_resolution(cell)
    if res == INDEX_RESOLUTION:
        return cell
    return _at_resolution(cell, INDEX_RESOLUTION) & ~_digit_mask(res + 1, INDEX_RESOLUTION)


def key_range(cell: int) -> tuple[int, int]:
    """First and last descendant of ``cell`` at the index resolution."""
    res = h3.get_resolution(cell)
    first = cell_key(cell)
    last = first
    for digit in range(res + 1, INDEX_RESOLUTION + 1):
        last |= 6 << ((_MAX_RES - digit) * _DIGIT_BITS)
    return first, last


def _split(overlap: Iterable[int], interior: Iterable[int]) -> Cover:
    inside = set(interior)
    edge = set(overlap) - inside
    return Cover(
        interior=list(h3.compact_cells(sorted(inside))) if inside else [],
        boundary=list(h3.compact_cells(sorted(edge))) if edge else [],
    )


def circle_cover(circle: Circle, res: int = INDEX_RESOLUTION) -> Cover:
    """Analytic: a cell whose centre is within r + a of the circle's centre may touch it (a the
    cell's circumradius); one within r - a lies wholly inside. Fast enough for the bulk index
    build (no polygon operations)."""
    centre = h3.latlng_to_cell(circle.lat, circle.lon, res)
    projection = circle.projection()
    boundary = np.array(h3.cell_to_boundary(centre))
    centre_lat, centre_lon = h3.cell_to_latlng(centre)
    corner_xy = projection.xy(boundary[:, 1], boundary[:, 0])
    centre_xy = projection.xy([centre_lon], [centre_lat])[0]
    circumradius = float(np.max(np.hypot(*(corner_xy - centre_xy).T))) * _CIRCUMRADIUS_MARGIN
    # Neighbouring centres are sqrt(3)·a apart; each ring of the disk adds at least 1.5·a.
    rings = (
        math.ceil((circle.radius_m + circumradius) / (1.5 * circumradius / _CIRCUMRADIUS_MARGIN))
        + 1
    )
    cells = h3.grid_disk(centre, rings)
    centres = np.array([h3.cell_to_latlng(c) for c in cells])
    xy = projection.xy(centres[:, 1], centres[:, 0])
    distance = np.hypot(xy[:, 0], xy[:, 1])
    touching = distance - circumradius <= circle.radius_m
    inside = distance + circumradius <= circle.radius_m
    cells_array = np.array(cells, dtype=np.uint64)
    return _split((int(c) for c in cells_array[touching]), (int(c) for c in cells_array[inside]))


def polygon_cover(polygon: Polygon, res: int = INDEX_RESOLUTION) -> Cover:
    grown = polygon.buffer(_EDGE_SLACK_DEGREES, join_style="mitre")
    shrunk = polygon.buffer(-_EDGE_SLACK_DEGREES, join_style="mitre")
    overlap = h3.h3shape_to_cells_experimental(
        h3.geo_to_h3shape(mapping(grown)), res, contain="overlap"
    )
    interior: list[int] = []
    if not shrunk.is_empty:
        interior = h3.h3shape_to_cells_experimental(
            h3.geo_to_h3shape(mapping(shrunk)), res, contain="full"
        )
    if not overlap:
        # Smaller than any cell and touching no cell centre: the cell of any of its points.
        point = polygon.representative_point()
        overlap = [h3.latlng_to_cell(point.y, point.x, res)]
    return _split(overlap, interior)


@dataclass(frozen=True)
class TargetCells:
    """A target's cover as query arguments: ranges for the stored cells under each target
    cell, and exact (key, res) pairs for the stored cells above them."""

    range_first: list[int]
    range_last: list[int]
    range_interior: list[bool]
    ancestor_key: list[int]
    ancestor_res: list[int]
    ancestor_interior: list[bool]

    @classmethod
    def of(cls, covers: Sequence[Cover]) -> TargetCells:
        interior_of: dict[int, bool] = {}
        for cover in covers:
            for cell in cover.interior:
                interior_of[cell] = True
            for cell in cover.boundary:
                interior_of.setdefault(cell, False)
        firsts, lasts, flags = [], [], []
        ancestors: dict[int, bool] = {}
        for cell, interior in interior_of.items():
            first, last = key_range(cell)
            firsts.append(first)
            lasts.append(last)
            flags.append(interior)
            for res in range(h3.get_resolution(cell)):
                parent = h3.cell_to_parent(cell, res)
                ancestors[parent] = ancestors.get(parent, False) or interior
        return cls(
            range_first=firsts,
            range_last=lasts,
            range_interior=flags,
            ancestor_key=[cell_key(a) for a in ancestors],
            ancestor_res=[h3.get_resolution(a) for a in ancestors],
            ancestor_interior=list(ancestors.values()),
        )

    def __bool__(self) -> bool:
        return bool(self.range_first)
