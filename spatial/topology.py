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

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar, overload

import numpy as np
import shapely
import shapely.geometry

from spatial.crs import WORK_CRS, check_coordinates  # the working CRS of every measure here (metres)
from spatial.errors import CodeError, GeometryError


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
        segs = [code[self.prefix_length(i) : self.prefix_length(i + 1)] for i in range(self.levels)]
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


def expected_order(
    geoms: Sequence[shapely.Geometry] | np.ndarray, *, row_height: float | None = None
) -> np.ndarray:
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
    assert row_height is not None
    if not (math.isfinite(row_height) and row_height > 0):
        # Degenerate children (points, empties): one row keeps the rule total.
        row = np.zeros(arr.size)
    else:
        row = np.round((np.nanmax(y) - y) / row_height)
    # Missing centroids (empty geometries) go last, deterministically.
    row = np.where(np.isfinite(row), row, np.inf)
    return np.lexsort((-np.nan_to_num(y, nan=-np.inf), np.nan_to_num(x, nan=np.inf), row))


def sequence_numbers(
    geoms: Sequence[shapely.Geometry] | np.ndarray, *, row_height: float | None = None
) -> np.ndarray:
    """1-based child number of each grid of one parent, by :func:`expected_order`."""
    order = expected_order(geoms, row_height=row_height)
    numbers = np.empty(order.size, dtype=np.intp)
    numbers[order] = np.arange(1, order.size + 1)
    return numbers


# --------------------------------------------------------------------------------------------
# Problems and the report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One problem found by :func:`check_grids`.

    Attributes
    ----------
    codes
        Codes of the grids involved (the offending grid first, then its parent or neighbours).
    level
        Grid level the problem belongs to (``None`` when not tied to a level).
    measure
        The size of the problem in :attr:`unit` (area in m², width in m, a count…).
    x, y
        A point of the problem in the working CRS (a representative point, inside it).
    geometry
        The problem's own geometry (gap, overlap, spilled part…) where there is one.
    message
        A sentence for a person.
    """

    kind: ClassVar[str] = "problem"
    unit: ClassVar[str] = ""
    codes: tuple[str, ...]
    level: int | None
    measure: float
    x: float
    y: float
    geometry: shapely.Geometry | None = None
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class NotPolygon(Problem):
    """The geometry is missing, empty, or not a Polygon/MultiPolygon; measure is 0."""

    kind: ClassVar[str] = "not_polygon"
    geom_type: str


@dataclass(frozen=True, kw_only=True)
class BadCoordinates(Problem):
    """Vertices that are NaN, infinite or outside the range of the CRS; measure: how many.

    A corrupt vertex (``1e300``) or a file in another CRS than it declares. The grid is left out
    of every other check, whose areas and distances it would overflow. It has no point on the map
    (``x, y`` are NaN); the message gives its first bad vertex.
    """

    kind: ClassVar[str] = "bad_coordinates"
    unit: ClassVar[str] = "vertices"


@dataclass(frozen=True, kw_only=True)
class InvalidGeometry(Problem):
    """The geometry is invalid; ``reason`` is GEOS's, ``repaired`` what ``make_valid`` gives.

    The other checks use the polygonal part of ``repaired``. Measure: area of ``repaired`` (m²).
    """

    kind: ClassVar[str] = "invalid_geometry"
    unit: ClassVar[str] = "m2"
    reason: str
    repaired: shapely.Geometry


@dataclass(frozen=True, kw_only=True)
class DuplicateCode(Problem):
    """Several grids carry the same code; measure is how many."""

    kind: ClassVar[str] = "duplicate_code"
    unit: ClassVar[str] = "grids"
    indexes: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class MalformedCode(Problem):
    """The code does not fit the code scheme or contradicts the declared level."""

    kind: ClassVar[str] = "malformed_code"
    reason: str


@dataclass(frozen=True, kw_only=True)
class WrongPrefix(Problem):
    """The code does not start with the significant digits of its declared parent's code."""

    kind: ClassVar[str] = "wrong_prefix"
    parent: str


@dataclass(frozen=True, kw_only=True)
class MissingParent(Problem):
    """The parent named (or implied by the code) is not among the grids of the parent level."""

    kind: ClassVar[str] = "missing_parent"
    parent: str


@dataclass(frozen=True, kw_only=True)
class Numbering(Problem):
    """Children of ``parent`` are not numbered 1..n west→east, north→south.

    ``codes`` are the children whose number is wrong, ``expected`` the numbers they should carry
    (same order); measure is how many.
    """

    kind: ClassVar[str] = "numbering"
    unit: ClassVar[str] = "grids"
    parent: str | None
    expected: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class Gap(Problem):
    """Land (or parent area) covered by no grid of the level; measure is its area (m²).

    ``codes`` are the grids around the gap, the parent first for a gap inside a parent.
    """

    kind: ClassVar[str] = "gap"
    unit: ClassVar[str] = "m2"
    width: float


@dataclass(frozen=True, kw_only=True)
class Overlap(Problem):
    """Two grids of one level share area; measure is the shared area (m²)."""

    kind: ClassVar[str] = "overlap"
    unit: ClassVar[str] = "m2"
    width: float


@dataclass(frozen=True, kw_only=True)
class Sliver(Problem):
    """The grid is thinner than :attr:`Tolerances.sliver_width`; measure is its thickness 2A/P (m)."""

    kind: ClassVar[str] = "sliver"
    unit: ClassVar[str] = "m"
    area: float


@dataclass(frozen=True, kw_only=True)
class OutsideParent(Problem):
    """Part of the grid lies outside its parent; measure is that area (m²)."""

    kind: ClassVar[str] = "outside_parent"
    unit: ClassVar[str] = "m2"
    parent: str


@dataclass(frozen=True, kw_only=True)
class OutsideLand(Problem):
    """Part of a grid of the top level lies outside the land; measure is that area (m²)."""

    kind: ClassVar[str] = "outside_land"
    unit: ClassVar[str] = "m2"


@dataclass(frozen=True, kw_only=True)
class UnexpectedMultipart(Problem):
    """The grid has parts cut off from its main body on the same piece of land.

    Parts that touch (even at a point) form one body. A body is expected when it stands on a piece
    of land (an island, a separate land polygon) that the largest body does not stand on. Without a
    land polygon the pieces of land are the parts of the top level's union. Measure: the stray
    area (m²); ``geometry`` the stray parts.
    """

    kind: ClassVar[str] = "unexpected_multipart"
    unit: ClassVar[str] = "m2"
    parts: int


#: Every problem class, in the order reports list them.
PROBLEM_KINDS: tuple[type[Problem], ...] = (
    NotPolygon,
    BadCoordinates,
    InvalidGeometry,
    DuplicateCode,
    MalformedCode,
    WrongPrefix,
    MissingParent,
    Numbering,
    Gap,
    Overlap,
    Sliver,
    OutsideParent,
    OutsideLand,
    UnexpectedMultipart,
)
P = TypeVar("P", bound=Problem)
_KIND_RANK = {cls.kind: i for i, cls in enumerate(PROBLEM_KINDS)}


@dataclass(frozen=True, kw_only=True)
class TopologyReport:
    """Every problem :func:`check_grids` found, in the working CRS.

    Attributes
    ----------
    problems
        Sorted by kind (in :data:`PROBLEM_KINDS` order), level, then codes.
    grids
        How many grids were checked.
    levels
        Levels present among them.
    tolerances
        The tolerances the check ran with.
    crs
        CRS of every coordinate and geometry in the report.
    """

    problems: tuple[Problem, ...]
    grids: int
    levels: tuple[int, ...]
    tolerances: Tolerances
    crs: str = WORK_CRS

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Number of problems by kind (kinds with none are left out)."""
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.kind] = out.get(p.kind, 0) + 1
        return out

    @overload
    def of_kind(self, kind: type[P]) -> tuple[P, ...]: ...
    @overload
    def of_kind(self, kind: str) -> tuple[Problem, ...]: ...
    def of_kind(self, kind: str | type[Problem]) -> tuple[Problem, ...]:
        """The problems of one kind, given by class (typed) or by name."""
        name = kind if isinstance(kind, str) else kind.kind
        return tuple(p for p in self.problems if p.kind == name)

    def to_records(self) -> list[dict[str, object]]:
        """Flat rows: kind, level, codes (comma-joined), measure, unit, x, y, message."""
        return [
            {
                "kind": p.kind,
                "level": p.level,
                "codes": ",".join(p.codes),
                "measure": p.measure,
                "unit": p.unit,
                "x": p.x,
                "y": p.y,
                "message": p.message,
            }
            for p in self.problems
        ]

    def to_geojson(self, *, to_crs: str | None = "EPSG:4326") -> dict[str, object]:
        """A GeoJSON FeatureCollection of the problems.

        Each feature's geometry is the problem geometry, or its point when it has none.
        ``to_crs="EPSG:4326"`` (the default) gives RFC 7946 lon/lat; ``None`` keeps the working CRS
        and names it in a ``crs`` member, as older readers (GDAL) understand.
        """
        records = self.to_records()
        geoms = np.array(
            [
                p.geometry if p.geometry is not None and not p.geometry.is_empty else shapely.Point(p.x, p.y)
                for p in self.problems
            ],
            dtype=object,
        )
        if to_crs is not None and geoms.size:
            from pyproj import Transformer

            tr = Transformer.from_crs(self.crs, to_crs, always_xy=True)
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
        features = [
            {"type": "Feature", "properties": rec, "geometry": shapely.geometry.mapping(g)}
            for rec, g in zip(records, geoms, strict=True)
        ]
        out: dict[str, object] = {"type": "FeatureCollection", "features": features}
        if to_crs is None:
            out["crs"] = {"type": "name", "properties": {"name": self.crs}}
        return out


# --------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
# Gap pieces touch their neighbours exactly in theory; a millimetre absorbs overlay rounding.
_NEAR = 1e-3


def check_grids(
    geoms: Sequence[shapely.Geometry | None] | np.ndarray,
    codes: Sequence[str] | np.ndarray,
    *,
    levels: Sequence[int] | np.ndarray | None = None,
    parents: Sequence[str | None] | np.ndarray | None = None,
    land: shapely.Geometry | None = None,
    tolerances: Tolerances = Tolerances(),
    hierarchical: bool = True,
    scheme: CodeScheme | None = None,
    numbered_levels: Sequence[int] = (2, 3),
    crs: str = WORK_CRS,
) -> TopologyReport:
    """Check one to three grid levels and report every problem at once.

    Parameters
    ----------
    geoms
        Grid polygons in the working CRS (EPSG:4549, metres), all levels together.
    codes
        Grid codes, aligned with ``geoms``.
    levels
        Level of each grid; by default read from the code (see :class:`CodeScheme`).
    parents
        Parent code of each grid (``None`` or ``""`` at level 1); by default implied by the code.
        When given, each code must start with its parent's significant digits.
    land
        The land the top level must cover exactly, in the working CRS. Without it the top level is
        only checked for holes (gaps enclosed by grids) and the pieces of its union stand for land.
    tolerances
        What passes as noise; see :class:`Tolerances`.
    hierarchical
        ``False`` treats all grids as one level with arbitrary string codes: no level, parent,
        code-format or numbering checks; geometry, duplicates, gaps, overlaps, slivers, land and
        multi-part checks still run.
    scheme
        Code layout; by default the 15-digit one, or inferred from the codes' length (12 digits:
        two levels, 9: one).
    numbered_levels
        Levels whose children are checked against :func:`expected_order`. Level 1 is left out by
        default because town segments follow statistical codes, not position.
    crs
        CRS of ``geoms`` and ``land``, recorded in the report. It must be projected in metres:
        the working CRS, or a local one for boundaries from elsewhere.

    Returns
    -------
    TopologyReport
    """
    geo = np.asarray(geoms, dtype=object).ravel()
    code_arr = np.array(["" if c is None else str(c).strip() for c in codes], dtype=object)
    n = geo.size
    if code_arr.size != n:
        raise CodeError(f"{n} geometries but {code_arr.size} codes")
    if levels is not None and len(levels) != n:
        raise CodeError(f"{n} geometries but {len(levels)} levels")
    if parents is not None and len(parents) != n:
        raise CodeError(f"{n} geometries but {len(parents)} parents")
    if land is not None and (land.is_empty or shapely.get_type_id(land) not in _POLYGONAL):
        raise GeometryError(f"the land must be a non-empty (Multi)Polygon, got {land.geom_type}")

    problems: list[Problem] = []
    work, usable = _check_geometry(geo, code_arr, problems, crs=crs)
    rep = shapely.point_on_surface(_only(work, usable))
    px, py = shapely.get_x(rep), shapely.get_y(rep)

    dup = _check_duplicates(code_arr, px, py, problems)
    if hierarchical:
        lvl, par, known, scheme = _resolve_hierarchy(code_arr, levels, parents, scheme, px, py, problems)
    else:
        lvl = np.ones(n, dtype=np.int64)
        par = np.full(n, None, dtype=object)
        known = np.ones(n, dtype=bool)
        scheme = None

    present = sorted({int(v) for v in lvl[known & usable]})
    if land is not None and not land.is_valid:
        land = _polygonal(shapely.make_valid(land))
    land_parts = shapely.get_parts(land) if land is not None else None
    top_union = None
    for level in present:
        sel = np.flatnonzero(known & usable & (lvl == level))
        union = _check_level(
            level=level,
            idx=sel,
            work=work,
            codes=code_arr,
            parents=par,
            lvl=lvl,
            known=known & usable,
            # A level whose parent level is absent is checked against the land, like level 1.
            is_top=level - 1 not in present,
            land=land,
            tol=tolerances,
            problems=problems,
        )
        if union is not None and top_union is None:
            top_union = union
    if present:
        pieces = land_parts if land_parts is not None else shapely.get_parts(top_union)
        _check_multipart(work, code_arr, lvl, known & usable, pieces, tolerances, problems)
    if hierarchical and scheme is not None:
        for level in present:
            if level in numbered_levels and level > 1:
                _check_numbering(level, work, code_arr, par, lvl, known & usable, dup, scheme, problems)

    problems.sort(key=lambda p: (_KIND_RANK[p.kind], p.level or 0, p.codes))
    return TopologyReport(
        problems=tuple(problems), grids=n, levels=tuple(present), tolerances=tolerances, crs=crs
    )


def _only(geoms: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of ``geoms`` with ``None`` where ``mask`` is false."""
    out = np.full(geoms.size, None, dtype=object)
    out[mask] = geoms[mask]
    return out


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a geometry (collections and lines dropped) as one (Multi)Polygon."""
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), _POLYGONAL)]
    if polys.size == 1:
        return polys[0]
    return shapely.multipolygons(shapely.get_parts(polys)) if polys.size else shapely.Polygon()


def _point(geom: shapely.Geometry | None) -> tuple[float, float]:
    if geom is None or geom.is_empty:
        return math.nan, math.nan
    p = shapely.point_on_surface(geom)
    return p.x, p.y


#: No projected CRS in metres reaches this far (the Earth's circumference is 4e7 m).
MAX_PROJECTED_M = 1e8


def out_of_range(x: np.ndarray, y: np.ndarray, *, crs: str = WORK_CRS) -> np.ndarray:
    """Per vertex: NaN, infinite, or outside the range of ``crs``.

    For the working CRS the range is the engine's plausible one (China, projected:
    :func:`spatial.crs.check_coordinates`); for another projected CRS, beyond ±1e8 m.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    with np.errstate(invalid="ignore"):
        bad = (
            ~(np.isfinite(x) & np.isfinite(y)) | (np.abs(x) > MAX_PROJECTED_M) | (np.abs(y) > MAX_PROJECTED_M)
        )
    if crs == WORK_CRS and (~bad).any():
        bad[~bad] = ~check_coordinates(x[~bad], y[~bad], crs=WORK_CRS).valid
    return bad


def coordinate_problems(
    geoms: np.ndarray, codes: np.ndarray, *, crs: str = WORK_CRS
) -> tuple[list[BadCoordinates], np.ndarray]:
    """Grids with vertices out of range (see :func:`out_of_range`), and a per-grid mask of them."""
    xy, which = shapely.get_coordinates(geoms, return_index=True)
    bad_vertex = out_of_range(xy[:, 0], xy[:, 1], crs=crs) if xy.size else np.zeros(0, dtype=bool)
    count = np.bincount(which[bad_vertex], minlength=geoms.shape[0])
    first = np.full(geoms.shape[0], -1, dtype=np.int64)
    hits = np.flatnonzero(bad_vertex)
    # Reversed, so the first bad vertex of each grid is the one written last.
    first[which[hits[::-1]]] = hits[::-1]
    problems = []
    for i in np.flatnonzero(count):
        vx, vy = (float(v) for v in xy[first[i]])
        n = int(count[i])
        problems.append(
            BadCoordinates(
                codes=(str(codes[i]),),
                level=None,
                measure=float(n),
                x=math.nan,
                y=math.nan,
                message=(
                    f"grid {codes[i]}: {n} {'vertices' if n > 1 else 'vertex'} outside the range of {crs}, "
                    f"the first at ({vx:.6g}, {vy:.6g}): a corrupt vertex, or a CRS other than the "
                    "file declares"
                ),
            )
        )
    return problems, count > 0


def _check_geometry(
    geo: np.ndarray, codes: np.ndarray, problems: list[Problem], *, crs: str = WORK_CRS
) -> tuple[np.ndarray, np.ndarray]:
    """Report missing, non-polygonal, out-of-range and invalid geometries; return the repaired ones."""
    missing = shapely.is_missing(geo) | shapely.is_empty(geo)
    type_id = shapely.get_type_id(geo)
    polygonal = np.isin(type_id, _POLYGONAL) & ~missing
    for i in np.flatnonzero(~polygonal):
        g = geo[i]
        gtype = "missing" if g is None else ("empty " + g.geom_type if g.is_empty else g.geom_type)
        x, y = _point(g)
        problems.append(
            NotPolygon(
                codes=(codes[i],),
                level=None,
                measure=0.0,
                x=x,
                y=y,
                geometry=None if g is None or g.is_empty else g,
                geom_type=gtype,
                message=f"grid {codes[i]}: geometry is {gtype}, not a polygon",
            )
        )
    far, far_mask = coordinate_problems(_only(geo, polygonal), codes, crs=crs)
    problems.extend(far)
    polygonal &= ~far_mask
    work = _only(geo, polygonal)
    invalid = polygonal & ~shapely.is_valid(work)
    if invalid.any():
        bad = np.flatnonzero(invalid)
        reasons = shapely.is_valid_reason(work[bad])
        repaired = shapely.make_valid(work[bad])
        for i, reason, fixed in zip(bad, reasons, repaired, strict=True):
            poly = _polygonal(fixed)
            work[i] = poly if not poly.is_empty else None
            x, y = _point(poly if not poly.is_empty else fixed)
            problems.append(
                InvalidGeometry(
                    codes=(codes[i],),
                    level=None,
                    measure=float(poly.area),
                    x=x,
                    y=y,
                    geometry=geo[i],
                    reason=str(reason),
                    repaired=fixed,
                    message=f"grid {codes[i]}: invalid geometry ({reason})",
                )
            )
    usable = ~shapely.is_missing(work)
    usable[usable] = ~shapely.is_empty(work[usable])
    return work, usable


def _check_duplicates(
    codes: np.ndarray, px: np.ndarray, py: np.ndarray, problems: list[Problem]
) -> np.ndarray:
    """Report codes carried by several grids; return a mask of the grids involved."""
    uniq, inverse, count = np.unique(codes.astype(str), return_inverse=True, return_counts=True)
    dup = count[inverse] > 1
    for k in np.flatnonzero(count > 1):
        where = np.flatnonzero(inverse == k)
        label = uniq[k] if uniq[k] else "(empty code)"
        problems.append(
            DuplicateCode(
                codes=(str(uniq[k]),),
                level=None,
                measure=float(count[k]),
                x=float(px[where[0]]),
                y=float(py[where[0]]),
                indexes=tuple(int(i) for i in where),
                message=f"code {label} is carried by {count[k]} grids",
            )
        )
    return dup


def _resolve_hierarchy(
    codes: np.ndarray,
    levels: Sequence[int] | np.ndarray | None,
    parents: Sequence[str | None] | np.ndarray | None,
    scheme: CodeScheme | None,
    px: np.ndarray,
    py: np.ndarray,
    problems: list[Problem],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, CodeScheme]:
    """Levels and parents of every grid, reporting malformed codes, wrong prefixes and orphans.

    Returns the level of each grid, the code of its parent when that parent is present among the
    grids (else ``None``), a mask of the grids whose level is known, and the code scheme used.
    """
    n = codes.size
    if scheme is None:
        lengths = [len(c) for c in codes if c.isascii() and c.isdigit()]
        scheme = CodeScheme()
        if lengths:
            common = max(set(lengths), key=lengths.count)
            with contextlib.suppress(CodeError):
                scheme = CodeScheme.for_length(common)
    lvl = np.full(n, -1, dtype=np.int64)
    known = np.zeros(n, dtype=bool)
    code_level = np.full(n, -1, dtype=np.int64)

    def malformed(i: int, reason: str, level: int | None) -> None:
        problems.append(
            MalformedCode(
                codes=(codes[i],),
                level=level,
                measure=0.0,
                x=float(px[i]),
                y=float(py[i]),
                reason=reason,
                message=f"grid {codes[i]}: {reason}",
            )
        )

    for i, code in enumerate(codes):
        declared = None if levels is None else levels[i]
        try:
            code_level[i] = scheme.level_of(code)
        except CodeError as exc:
            if declared is None:
                malformed(i, str(exc), None)
                continue
            # A declared level keeps the grid in the geometric checks of its level.
            malformed(i, str(exc), int(declared))
        if declared is not None:
            d = int(declared)
            if code_level[i] > 0 and code_level[i] != d:
                malformed(i, f"code denotes level {code_level[i]} but the grid is declared level {d}", d)
            if not 1 <= d <= scheme.levels:
                malformed(i, f"level {d} is outside 1..{scheme.levels}", d)
                continue
            lvl[i] = d
        else:
            lvl[i] = code_level[i]
        known[i] = True

    present = set(lvl[known].tolist())
    by_level: dict[int, set[str]] = {level: set(codes[known & (lvl == level)].tolist()) for level in present}
    par = np.full(n, None, dtype=object)
    for i in np.flatnonzero(known).tolist():
        level = int(lvl[i])
        code = codes[i]
        if parents is not None:
            raw = parents[i]
            parent = (
                None
                if raw is None or (isinstance(raw, float) and math.isnan(raw))
                else str(raw).strip() or None
            )
            if level > 1 and parent is None:
                problems.append(
                    MissingParent(
                        codes=(code,),
                        level=level,
                        measure=0.0,
                        x=float(px[i]),
                        y=float(py[i]),
                        parent="",
                        message=f"grid {code} of level {level} names no parent",
                    )
                )
                continue
            if level > 1 and code_level[i] > 0:
                assert parent is not None
                keep = scheme.prefix_length(level - 1)
                if not code.startswith(parent[:keep]):
                    problems.append(
                        WrongPrefix(
                            codes=(code, parent),
                            level=level,
                            measure=0.0,
                            x=float(px[i]),
                            y=float(py[i]),
                            parent=parent,
                            message=f"grid {code} does not start with {parent[:keep]}, "
                            f"the prefix of its parent {parent}",
                        )
                    )
        elif level > 1 and code_level[i] > 0:
            keep = scheme.prefix_length(level - 1)
            parent = code[:keep] + "0" * (scheme.length - keep)
        else:
            parent = None
        if level <= 1 or parent is None:
            continue
        if level - 1 not in present:
            # The parent level was not given: nothing to check the grid against.
            continue
        if parent not in by_level[level - 1]:
            problems.append(
                MissingParent(
                    codes=(code, parent),
                    level=level,
                    measure=0.0,
                    x=float(px[i]),
                    y=float(py[i]),
                    parent=parent,
                    message=f"grid {code}: its parent {parent} is not among the level-{level - 1} grids",
                )
            )
            continue
        par[i] = parent
    return lvl, par, known, scheme


def _neighbours(tree: shapely.STRtree, pieces: np.ndarray, codes: np.ndarray) -> list[tuple[str, ...]]:
    """Codes of the grids within a millimetre of each piece, sorted."""
    out: list[list[str]] = [[] for _ in range(pieces.size)]
    if pieces.size:
        pi, gi = tree.query(pieces, predicate="dwithin", distance=_NEAR)
        for a, b in zip(pi.tolist(), gi.tolist(), strict=True):
            out[a].append(codes[b])
    return [tuple(sorted(set(o))) for o in out]


def _pieces(geom: np.ndarray | shapely.Geometry, min_area: float) -> tuple[np.ndarray, np.ndarray]:
    """Polygon parts larger than ``min_area`` and the index of the input each came from."""
    parts, index = shapely.get_parts(geom, return_index=True)
    if parts.size:
        keep = np.isin(shapely.get_type_id(parts), _POLYGONAL) & (shapely.area(parts) > min_area)
        parts, index = parts[keep], index[keep]
    return parts, index


def _gap_problems(
    pieces: np.ndarray, around: list[tuple[str, ...]], level: int, where: str, problems: list[Problem]
) -> None:
    if not pieces.size:
        return
    area = shapely.area(pieces)
    width = thickness(pieces)
    rp = shapely.point_on_surface(pieces)
    for k in range(pieces.size):
        problems.append(
            Gap(
                codes=around[k],
                level=level,
                measure=float(area[k]),
                x=float(rp[k].x),
                y=float(rp[k].y),
                geometry=pieces[k],
                width=float(width[k]),
                message=f"level {level}: gap of {area[k]:.1f} m² (width {width[k]:.1f} m) {where} "
                f"next to {', '.join(around[k]) or 'no grid'}",
            )
        )


def _check_level(
    *,
    level: int,
    idx: np.ndarray,
    work: np.ndarray,
    codes: np.ndarray,
    parents: np.ndarray,
    lvl: np.ndarray,
    known: np.ndarray,
    is_top: bool,
    land: shapely.Geometry | None,
    tol: Tolerances,
    problems: list[Problem],
) -> shapely.Geometry | None:
    """Overlaps, slivers, gaps and spills of one level; returns the union of the top level."""
    g = work[idx]
    c = codes[idx]
    tree = shapely.STRtree(g)

    # Overlaps. Only polygons whose edges do not match their neighbours' can overlap, and the
    # coverage validator finds those in one noding pass: intersections are computed for them only.
    flagged = ~shapely.is_empty(shapely.coverage_invalid_edges(g))
    if flagged.any():
        fi = np.flatnonzero(flagged)
        qi, qj = tree.query(g[fi])
        a, b = fi[qi], qj
        keep = a != b
        pairs = np.unique(np.sort(np.column_stack([a[keep], b[keep]]), axis=1), axis=0)
        if pairs.size:
            inter = shapely.intersection(g[pairs[:, 0]], g[pairs[:, 1]])
            area = shapely.area(inter)
            big = area > tol.overlap_area
            pairs, inter, area = pairs[big], inter[big], area[big]
            width = thickness(inter)
            rp = shapely.point_on_surface(inter)
            for k, (i, j) in enumerate(pairs.tolist()):
                ci, cj = sorted((c[i], c[j]))
                problems.append(
                    Overlap(
                        codes=(ci, cj),
                        level=level,
                        measure=float(area[k]),
                        x=float(rp[k].x),
                        y=float(rp[k].y),
                        geometry=_polygonal(inter[k]),
                        width=float(width[k]),
                        message=f"level {level}: grids {ci} and {cj} overlap by {area[k]:.1f} m²",
                    )
                )

    # Slivers.
    th = thickness(g)
    for k in np.flatnonzero(th < tol.sliver_width).tolist():
        x, y = _point(g[k])
        problems.append(
            Sliver(
                codes=(c[k],),
                level=level,
                measure=float(th[k]),
                x=x,
                y=y,
                geometry=None,
                area=float(g[k].area),
                message=f"grid {c[k]} is a sliver: thickness 2A/P {th[k]:.2f} m, "
                f"below {tol.sliver_width:g} m",
            )
        )

    if is_top:
        union = _union(g, flagged)
        if land is not None:
            gaps, _, spill, _ = _differences(np.array([land], dtype=object), np.array([union], dtype=object))
            gaps = gaps[shapely.area(gaps) > tol.gap_area]
            _gap_problems(gaps, _neighbours(tree, gaps, c), level, "inside the land", problems)
            _spill_problems(
                spill,
                np.zeros(spill.size, dtype=np.int64),
                g,
                c,
                tree,
                None,
                level,
                tol,
                problems,
                OutsideLand,
            )
        else:
            shells = shapely.polygons(shapely.get_exterior_ring(shapely.get_parts(union)))
            gaps, _ = _pieces(shapely.difference(shapely.union_all(shells), union), tol.gap_area)
            _gap_problems(gaps, _neighbours(tree, gaps, c), level, "enclosed by grids", problems)
        return union

    # Lower level: each parent must be covered by its own children, and hold them.
    pidx = np.flatnonzero(known & (lvl == level - 1))
    pcodes = codes[pidx]
    order = np.argsort(pcodes, kind="stable")
    child_par = parents[idx]
    has_parent = np.array([p is not None for p in child_par], dtype=bool)
    row = np.full(idx.size, -1, dtype=np.int64)
    if has_parent.any() and pidx.size:
        wanted = child_par[has_parent].astype(str)
        pos = np.clip(np.searchsorted(pcodes[order], wanted), 0, order.size - 1)
        # A parent without usable geometry is not among the rows: its children have no row.
        found = pcodes[order][pos] == wanted
        row[np.flatnonzero(has_parent)[found]] = order[pos[found]]
    child_union = _grouped_union(g, row, pidx.size, flagged)
    gaps, gi, spill, si = _differences(work[pidx], child_union)
    big = shapely.area(gaps) > tol.gap_area
    gaps, gi = gaps[big], gi[big]
    around = [
        (pcodes[r], *(x for x in nb if x != pcodes[r]))
        for r, nb in zip(gi.tolist(), _neighbours(tree, gaps, c), strict=True)
    ]
    _gap_problems(gaps, around, level, "inside its parent", problems)
    _spill_problems(spill, si, g, c, tree, (row, pcodes), level, tol, problems, OutsideParent)
    return None


def _grouped_union(g: np.ndarray, row: np.ndarray, rows: int, flagged: np.ndarray) -> np.ndarray:
    """Union of the grids of each group (``row`` = group index, -1 for none), one call per kind.

    Groups go into the rows of a padded 2-D array so one vectorised union serves them all; groups
    whose edges all match take the fast coverage union.
    """
    out = np.full(rows, None, dtype=object)
    kids = np.flatnonzero(row >= 0)
    if not rows:
        return out
    kr = row[kids]
    srt = np.argsort(kr, kind="stable")
    kids, kr = kids[srt], kr[srt]
    col = np.arange(kr.size) - np.searchsorted(kr, kr, side="left")
    grid2d = np.full((rows, int(col.max()) + 1 if col.size else 1), None, dtype=object)
    grid2d[kr, col] = g[kids]
    dirty = np.zeros(rows, dtype=bool)
    np.logical_or.at(dirty, kr, flagged[kids])
    if (~dirty).any():
        out[~dirty] = shapely.coverage_union_all(grid2d[~dirty], axis=1)
    if dirty.any():
        out[dirty] = shapely.union_all(grid2d[dirty], axis=1)
    return out


def _differences(ref: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pieces of ``ref - got`` and of ``got - ref``, row by row, each with its row index.

    Rows whose two sides have the same vertices (a parent built from its children) are equal
    without any overlay; the others take one symmetric difference whose pieces are sorted by
    whether a point inside them lies in ``ref``.
    """
    empty = np.array([], dtype=object), np.array([], dtype=np.int64)
    got = got.copy()
    got[shapely.is_missing(got)] = shapely.Polygon()
    same = shapely.equals_exact(shapely.normalize(ref), shapely.normalize(got), tolerance=1e-9)
    rows = np.flatnonzero(~same)
    if not rows.size:
        return *empty, *empty
    parts, k = shapely.get_parts(shapely.symmetric_difference(ref[rows], got[rows]), return_index=True)
    keep = np.isin(shapely.get_type_id(parts), _POLYGONAL) & (shapely.area(parts) > 0)
    parts, k = parts[keep], rows[k[keep]]
    if not parts.size:
        return *empty, *empty
    inside = shapely.contains(ref[k], shapely.point_on_surface(parts))
    return parts[inside], k[inside], parts[~inside], k[~inside]


def _union(g: np.ndarray, flagged: np.ndarray) -> shapely.Geometry:
    """Union of a level: the fast coverage union where edges match, the robust overlay elsewhere."""
    if not flagged.any():
        return shapely.coverage_union_all(g)
    clean = shapely.coverage_union_all(g[~flagged]) if (~flagged).any() else shapely.Polygon()
    return shapely.union_all(np.concatenate([[clean], g[flagged]]))


def _spill_problems(
    spill: np.ndarray,
    spill_row: np.ndarray,
    g: np.ndarray,
    c: np.ndarray,
    tree: shapely.STRtree,
    rows: tuple[np.ndarray, np.ndarray] | None,
    level: int,
    tol: Tolerances,
    problems: list[Problem],
    cls: type[OutsideParent] | type[OutsideLand],
) -> None:
    """Attribute pieces lying outside the reference (parent or land) to the grids they come from."""
    if not spill.size:
        return
    si, gi = tree.query(spill, predicate="intersects")
    if rows is not None:
        # A piece outside parent P belongs to P's children only.
        child_row, _ = rows
        same = child_row[gi] == spill_row[si]
        si, gi = si[same], gi[same]
    if not si.size:
        return
    part = shapely.intersection(spill[si], g[gi])
    area = shapely.area(part)
    owners = np.unique(gi)
    for k in owners.tolist():
        m = gi == k
        total = float(area[m].sum())
        if total <= tol.outside_area:
            continue
        geom = _polygonal(shapely.union_all(part[m]))
        x, y = _point(geom)
        if rows is not None:
            parent = str(rows[1][rows[0][k]])
            problems.append(
                OutsideParent(
                    codes=(c[k], parent),
                    level=level,
                    measure=total,
                    x=x,
                    y=y,
                    geometry=geom,
                    parent=parent,
                    message=f"grid {c[k]}: {total:.1f} m² lie outside its parent {parent}",
                )
            )
        else:
            problems.append(
                OutsideLand(
                    codes=(c[k],),
                    level=level,
                    measure=total,
                    x=x,
                    y=y,
                    geometry=geom,
                    message=f"grid {c[k]}: {total:.1f} m² lie outside the land",
                )
            )


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component labels of ``n`` nodes joined by edges ``a–b`` (label propagation)."""
    label = np.arange(n)
    if a.size == 0:
        return label
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]  # pointer jumping halves the remaining path lengths
        if np.array_equal(new, label):
            return label
        label = new


def _check_multipart(
    work: np.ndarray,
    codes: np.ndarray,
    lvl: np.ndarray,
    usable: np.ndarray,
    land_pieces: np.ndarray,
    tol: Tolerances,
    problems: list[Problem],
) -> None:
    """Report parts cut off from their grid's body on a piece of land that body already stands on."""
    multi = np.flatnonzero(usable & (shapely.get_num_geometries(_only(work, usable)) > 1))
    if not multi.size:
        return
    parts, owner = shapely.get_parts(work[multi], return_index=True)
    ptree = shapely.STRtree(parts)
    a, b = ptree.query(parts, predicate="intersects")
    same = owner[a] == owner[b]
    body = _components(parts.size, a[same], b[same])
    # The piece of land each part stands on, from a point surely inside the part.
    ltree = shapely.STRtree(land_pieces)
    pi, li = ltree.query(shapely.point_on_surface(parts), predicate="intersects")
    piece = np.full(parts.size, -1, dtype=np.int64)
    piece[pi] = li
    area = shapely.area(parts)
    for k in range(multi.size):
        mine = np.flatnonzero(owner == k)
        bodies = np.unique(body[mine])
        if bodies.size < 2:
            continue
        body_area = np.array([area[mine][body[mine] == bb].sum() for bb in bodies])
        main = bodies[int(np.argmax(body_area))]
        main_land = set(piece[mine][body[mine] == main].tolist())
        # A body on a piece of land the main body does not reach is an island: expected.
        stray = [
            bb for bb in bodies if bb != main and set(piece[mine][body[mine] == bb].tolist()) <= main_land
        ]
        stray_parts = parts[mine][np.isin(body[mine], stray)]
        stray_area = float(shapely.area(stray_parts).sum()) if stray_parts.size else 0.0
        if not stray_parts.size or stray_area <= tol.stray_part_area:
            continue
        i = multi[k]
        geom = shapely.multipolygons(shapely.get_parts(stray_parts))
        x, y = _point(geom)
        problems.append(
            UnexpectedMultipart(
                codes=(codes[i],),
                level=int(lvl[i]),
                measure=stray_area,
                x=x,
                y=y,
                geometry=geom,
                parts=int(parts[mine].size),
                message=f"grid {codes[i]}: {len(stray)} part(s), {stray_area:.1f} m², cut off from its main "
                "body on the same piece of land",
            )
        )


def _check_numbering(
    level: int,
    work: np.ndarray,
    codes: np.ndarray,
    parents: np.ndarray,
    lvl: np.ndarray,
    usable: np.ndarray,
    dup: np.ndarray,
    scheme: CodeScheme,
    problems: list[Problem],
) -> None:
    """Children of each parent must carry numbers 1..n in :func:`expected_order`.

    A parent with a duplicated or malformed child code is skipped: that code is reported already
    and any order would be arbitrary.
    """
    sel = np.flatnonzero(usable & (lvl == level) & np.array([p is not None for p in parents]))
    if not sel.size:
        return
    lo, hi = scheme.prefix_length(level - 1), scheme.prefix_length(level)
    groups: dict[str, list[int]] = {}
    for i in sel.tolist():
        groups.setdefault(parents[i], []).append(i)
    for parent, members in sorted(groups.items()):
        m = np.array(members)
        seg = [codes[i][lo:hi] for i in members]
        if dup[m].any() or not all(len(s) == hi - lo and s.isdigit() for s in seg):
            continue
        number = np.array([int(s) for s in seg])
        expected = sequence_numbers(work[m])
        wrong = np.flatnonzero(number != expected)
        if not wrong.size:
            continue
        bad = m[wrong]
        x, y = _point(shapely.union_all(work[bad]))
        problems.append(
            Numbering(
                codes=tuple(codes[bad].tolist()),
                level=level,
                measure=float(wrong.size),
                x=x,
                y=y,
                parent=parent,
                expected=tuple(int(e) for e in expected[wrong]),
                message=f"children of {parent} not numbered west→east, north→south: "
                + ", ".join(
                    f"{codes[i]} should be no. {e}" for i, e in zip(bad, expected[wrong], strict=True)
                ),
            )
        )
