"""Topology checks of grid levels, the grid code scheme and the numbering rule.

Grids of one level must cover the land with no gap and no overlap; each grid of a lower level must
lie in its parent, whose code prefixes its own. :func:`check_grids` reports every problem at once,
each with the codes involved, a measure and a location. :func:`expected_order` is the one
numbering rule shared by the checks and by whatever generates grids.

Numbering rule (children of one parent, "west→east, north→south")
-----------------------------------------------------------------
Children are read like lines of text. Each child is placed by its centroid. Rows have the height
``h`` of a typical child: the median height of the children's bounding boxes (or ``row_height``
when given). The row of a child is ``round((y_top - y) / h)``, where ``y_top`` is the northernmost
centroid of the siblings; rows are numbered from north to south and, within a row, children from
west to east by the centroid's easting (ties: north first). Rounding, not flooring, keeps a regular
lattice of children on exact rows even with floating-point noise.

Sliver measure
--------------
The thickness of a polygon is ``2 A / P`` (area over half the perimeter). For a long strip it is its
width, for a square half its side, for a disc its radius. A grid thinner than
:attr:`Tolerances.sliver_width` metres is a sliver. Gap and overlap pieces carry the same measure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from spatial.errors import CodeError

#: The working CRS of every measure here: CGCS2000 / 3-degree Gauss-Kruger CM 120E, metres.
WORK_CRS = "EPSG:4549"


@dataclass(frozen=True, kw_only=True)
class Tolerances:
    """What the checks let pass, in metres and square metres of the working CRS.

    Parameters
    ----------
    gap_area
        Uncovered pieces of at most this area (m²) are digitising noise, not gaps.
    overlap_area
        Intersections of two grids of at most this area (m²) are not overlaps.
    outside_area
        A child may spill out of its parent, or a level out of the land, by at most this area (m²).
    sliver_width
        A grid whose thickness ``2A/P`` is below this width (m) is a sliver.
    stray_part_area
        Parts of a multi-part grid of at most this area (m²) are ignored by the multi-part check.
    """

    gap_area: float = 1.0
    overlap_area: float = 1.0
    outside_area: float = 1.0
    sliver_width: float = 10.0
    stray_part_area: float = 1.0


@dataclass(frozen=True, kw_only=True)
class CodeScheme:
    """Layout of hierarchical grid codes: a root prefix, then one fixed-width segment per level.

    The default is the 15-digit grid code: county (6) + town (3) + community (3) + grid (3). A grid
    of level ``L`` has segments ``1..L`` non-zero and the remaining ones zero, so a parent's code is
    its child's prefix padded with zeros. Level-1 town segments follow the statistical town codes
    (``003``, ``101``…); lower levels are numbered ``001, 002…`` by :func:`expected_order`.
    """

    root_digits: int = 6
    segment_digits: int = 3
    levels: int = 3

    @property
    def length(self) -> int:
        return self.root_digits + self.segment_digits * self.levels

    @classmethod
    def for_length(cls, length: int, *, root_digits: int = 6, segment_digits: int = 3) -> CodeScheme:
        """The scheme of codes ``length`` digits long (15 → three levels, 12 → two, 9 → one)."""
        levels, rest = divmod(length - root_digits, segment_digits)
        if rest or levels < 1:
            raise CodeError(
                f"a grid code of {length} digits does not fit a {root_digits}-digit root "
                f"followed by {segment_digits}-digit segments"
            )
        return cls(root_digits=root_digits, segment_digits=segment_digits, levels=levels)

    def prefix_length(self, level: int) -> int:
        """Digits that carry meaning in a code of ``level`` (the rest are zero padding)."""
        return self.root_digits + self.segment_digits * level

    def level_of(self, code: str) -> int:
        """The level a code denotes; :class:`CodeError` when the code does not fit the scheme."""
        if len(code) != self.length or not code.isascii() or not code.isdigit():
            raise CodeError(f"grid code {code!r} is not {self.length} digits")
        segs = [
            code[self.prefix_length(i) : self.prefix_length(i + 1)] for i in range(self.levels)
        ]
        zero = "0" * self.segment_digits
        level = 0
        while level < self.levels and segs[level] != zero:
            level += 1
        if level == 0:
            raise CodeError(f"grid code {code!r} has no level: its first segment is zero")
        if any(s != zero for s in segs[level:]):
            raise CodeError(f"grid code {code!r} has a zero segment followed by a non-zero one")
        return level

    def parent_of(self, code: str) -> str | None:
        """The parent's code (``None`` for level 1)."""
        level = self.level_of(code)
        if level == 1:
            return None
        keep = self.prefix_length(level - 1)
        return code[:keep] + "0" * (self.length - keep)

    def child(self, parent: str | None, number: int, *, root: str | None = None) -> str:
        """Code of child ``number`` (1-based) of ``parent``; ``root`` (the county) for level 1."""
        top = 10**self.segment_digits - 1
        if not 1 <= number <= top:
            raise CodeError(f"child number {number} is outside 1..{top}")
        if parent is None:
            if root is None or len(root) != self.root_digits or not root.isdigit():
                raise CodeError(f"a level-1 code needs a {self.root_digits}-digit root, got {root!r}")
            prefix, level = root, 1
        else:
            level = self.level_of(parent) + 1
            if level > self.levels:
                raise CodeError(f"grid {parent!r} is of the lowest level and has no children")
            prefix = parent[: self.prefix_length(level - 1)]
        code = prefix + str(number).zfill(self.segment_digits)
        return code + "0" * (self.length - len(code))


def thickness(geoms: np.ndarray | shapely.Geometry) -> np.ndarray:
    """Thickness ``2A/P`` in metres (0 for empty or line geometries), the sliver measure."""
    area = shapely.area(geoms)
    perim = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(perim > 0, 2.0 * area / perim, 0.0)
    return out


def expected_order(geoms: Sequence[shapely.Geometry] | np.ndarray, *, row_height: float | None = None) -> np.ndarray:
    """Indices of sibling grids in numbering order (west→east, north→south).

    See the module docstring for the rule. ``geoms`` are the children of one parent in the working
    CRS; the first index returned is child number 1.

    Parameters
    ----------
    geoms
        Polygons of the children of one parent.
    row_height
        Height of a row in metres; by default the median height of the children's bounding boxes.

    Returns
    -------
    numpy.ndarray
        A permutation of ``range(len(geoms))``.
    """
    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return np.zeros(0, dtype=np.intp)
    cent = shapely.centroid(arr)
    x = shapely.get_x(cent)
    y = shapely.get_y(cent)
    if row_height is None:
        b = shapely.bounds(arr)
        row_height = float(np.nanmedian(b[:, 3] - b[:, 1])) if np.isfinite(b).any() else 0.0
    if not (math.isfinite(row_height) and row_height > 0):
        # Degenerate children (points, empties): one row keeps the rule total.
        row = np.zeros(arr.size)
    else:
        row = np.round((np.nanmax(y) - y) / row_height)
    # Missing centroids (empty geometries) go last, deterministically.
    row = np.where(np.isfinite(row), row, np.inf)
    return np.lexsort((-np.nan_to_num(y, nan=-np.inf), np.nan_to_num(x, nan=np.inf), row))


def sequence_numbers(geoms: Sequence[shapely.Geometry] | np.ndarray, *, row_height: float | None = None) -> np.ndarray:
    """1-based child number of each grid of one parent, by :func:`expected_order`."""
    order = expected_order(geoms, row_height=row_height)
    numbers = np.empty(order.size, dtype=np.intp)
    numbers[order] = np.arange(1, order.size + 1)
    return numbers
