"""Tests of spatial.topology: the code scheme, the numbering rule and check_grids.

A small clean hierarchy (2 towns of 4×4 km, each 2×2 communities, each 2×2 management areas) is
built here; each defect test injects ONE defect into a copy and expects exactly that problem. Real
boundaries of other cities are checked in the flat mode against a brute-force shapely oracle.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box

from spatial.errors import CodeError, GeometryError
from spatial.topology import (
    CodeScheme,
    DuplicateCode,
    Gap,
    InvalidGeometry,
    Numbering,
    Overlap,
    Tolerances,
    TopologyReport,
    check_grids,
    expected_order,
    sequence_numbers,
    thickness,
)

U = 1000.0  # one management area is U × U metres
X0, Y0 = 550_000.0, 3_450_000.0  # somewhere in Wuzhong, EPSG:4549
SCHEME = CodeScheme()
TOWN_SEGMENTS = (3, 101)


@dataclass
class Hierarchy:
    geoms: list[shapely.Geometry] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    parents: list[str | None] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)

    def add(self, geom: shapely.Geometry, code: str, parent: str | None, level: int) -> None:
        self.geoms.append(geom)
        self.codes.append(code)
        self.parents.append(parent)
        self.levels.append(level)

    def at(self, level: int, x: float, y: float) -> int:
        """Index of the grid of ``level`` covering the point (in lattice units from the origin)."""
        p = shapely.Point(X0 + x * U, Y0 + y * U)
        hits = [i for i, g in enumerate(self.geoms) if self.levels[i] == level and g.covers(p)]
        assert len(hits) == 1, hits
        return hits[0]

    def check(self, **kw: object) -> TopologyReport:
        return check_grids(self.geoms, self.codes, **kw)  # type: ignore[arg-type]


def cell(x: float, y: float, w: float = 1.0, h: float = 1.0) -> shapely.Polygon:
    return box(X0 + x * U, Y0 + y * U, X0 + (x + w) * U, Y0 + (y + h) * U)


def build(children: dict[tuple[int, int], list[shapely.Geometry]] | None = None) -> Hierarchy:
    """The clean hierarchy; ``children[(town, community)]`` replaces a community's areas.

    Codes are given by :func:`sequence_numbers`, as a generator would give them.
    """
    children = children or {}
    h = Hierarchy()
    for t, seg in enumerate(TOWN_SEGMENTS):
        town = SCHEME.child(None, seg, root="320506")
        h.add(cell(4 * t, 0, 4, 4), town, None, 1)
        comms = [cell(4 * t + 2 * cx, 2 * cy, 2, 2) for cy in range(2) for cx in range(2)]
        for k, (cg, num) in enumerate(zip(comms, sequence_numbers(comms), strict=True)):
            comm = SCHEME.child(town, int(num))
            h.add(cg, comm, town, 2)
            x, y = (cg.bounds[0] - X0) / U, (cg.bounds[1] - Y0) / U
            areas = children.get((t, k)) or [cell(x + ax, y + ay) for ay in range(2) for ax in range(2)]
            for ag, anum in zip(areas, sequence_numbers(areas), strict=True):
                h.add(ag, SCHEME.child(comm, int(anum)), comm, 3)
    return h


def land_of(h: Hierarchy) -> shapely.Geometry:
    return shapely.union_all([g for g, lv in zip(h.geoms, h.levels, strict=True) if lv == 1])


# --------------------------------------------------------------------------------------------
# Code scheme and numbering rule
# --------------------------------------------------------------------------------------------


def test_code_scheme_levels_parents_children() -> None:
    assert SCHEME.level_of("320506003000000") == 1
    assert SCHEME.level_of("320506003001000") == 2
    assert SCHEME.level_of("320506003001001") == 3
    assert SCHEME.parent_of("320506003001001") == "320506003001000"
    assert SCHEME.parent_of("320506003001000") == "320506003000000"
    assert SCHEME.parent_of("320506003000000") is None
    assert SCHEME.child("320506003001000", 12) == "320506003001012"
    assert SCHEME.child(None, 101, root="320506") == "320506101000000"
    assert CodeScheme.for_length(12).levels == 2
    assert CodeScheme.for_length(9).level_of("320506003") == 1


@pytest.mark.parametrize(
    ("code", "match"),
    [
        ("32050600300100", "not 15 digits"),
        ("32050600300100x", "not 15 digits"),
        ("320506000000000", "first segment is zero"),
        ("320506003000001", "zero segment followed by a non-zero"),
    ],
)
def test_code_scheme_refuses_malformed_codes(code: str, match: str) -> None:
    with pytest.raises(CodeError, match=match):
        SCHEME.level_of(code)


def test_code_scheme_refuses_bad_lengths_and_numbers() -> None:
    with pytest.raises(CodeError, match="does not fit"):
        CodeScheme.for_length(14)
    with pytest.raises(CodeError, match=r"outside 1\.\.999"):
        SCHEME.child("320506003000000", 1000)
    with pytest.raises(CodeError, match="lowest level"):
        SCHEME.child("320506003001001", 1)
    with pytest.raises(CodeError, match="6-digit root"):
        SCHEME.child(None, 3)


def test_expected_order_reads_rows_north_to_south_west_to_east() -> None:
    # A 3 × 2 lattice given in scrambled order.
    cells = {(c, r): cell(c, -r) for r in range(2) for c in range(3)}
    keys = [(2, 1), (0, 0), (1, 1), (2, 0), (0, 1), (1, 0)]
    order = expected_order([cells[k] for k in keys])
    assert [keys[i] for i in order] == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    assert sequence_numbers([cells[k] for k in keys]).tolist() == [6, 1, 5, 3, 4, 2]


def test_expected_order_rows_tolerate_uneven_cells() -> None:
    # The eastern cell of the top row sits 300 m lower than its row mate: same row still (rounding).
    geoms = [cell(0, 0), cell(1, -0.3), cell(0, -1.2), cell(1, -1.2)]
    assert expected_order(geoms).tolist() == [0, 1, 2, 3]
    assert expected_order(geoms, row_height=100.0).tolist() == [0, 1, 2, 3]
    assert expected_order([]).size == 0


@settings(max_examples=30, deadline=None)
@given(st.permutations(list(range(12))))
def test_expected_order_does_not_depend_on_input_order(perm: list[int]) -> None:
    geoms = [cell(i % 4, -(i // 4)) for i in range(12)]
    shuffled = [geoms[i] for i in perm]
    numbers = sequence_numbers(shuffled)
    assert [numbers[perm.index(i)] for i in range(12)] == list(range(1, 13))


def test_thickness_is_width_of_a_strip() -> None:
    assert thickness(box(0, 0, 1000, 5))[()] == pytest.approx(2 * 5000 / 2010)
    assert thickness(box(0, 0, 10, 10))[()] == pytest.approx(5.0)


# --------------------------------------------------------------------------------------------
# The clean hierarchy and one defect at a time
# --------------------------------------------------------------------------------------------


def test_clean_hierarchy_has_no_problem() -> None:
    h = build()
    assert len(h.codes) == 2 + 8 + 32
    for kw in ({}, {"land": land_of(h)}, {"levels": h.levels, "parents": h.parents}):
        report = h.check(**kw)
        assert report.ok, report.to_records()
        assert report.counts() == {}
        assert report.levels == (1, 2, 3)
        assert report.grids == 42


def test_single_levels_and_pairs_of_levels_are_checked_alone() -> None:
    h = build()
    for wanted in ({1}, {2}, {3}, {2, 3}, {1, 2}, {1, 3}):
        idx = [i for i, lv in enumerate(h.levels) if lv in wanted]
        report = check_grids([h.geoms[i] for i in idx], [h.codes[i] for i in idx], land=land_of(h))
        assert report.ok, (wanted, report.to_records())
        assert set(report.levels) == wanted


def test_moved_shared_vertex_gives_one_gap_and_one_overlap() -> None:
    h = build()
    # The south-west area of the first community loses its north-east corner to the south-east area.
    a = h.at(3, 0.5, 0.5)
    b = h.at(3, 1.5, 0.5)
    x, y = X0, Y0
    h.geoms[a] = shapely.Polygon([(x, y), (x + U, y), (x + 1.2 * U, y + 0.9 * U), (x, y + U)])
    report = h.check()
    assert report.counts() == {"gap": 1, "overlap": 1}, report.to_records()
    (gap,) = report.of_kind(Gap)
    (overlap,) = report.of_kind(Overlap)
    assert overlap.codes == tuple(sorted((h.codes[a], h.codes[b])))
    assert overlap.level == 3
    # Triangles: gap between the moved edge and the old corner, overlap inside the neighbour.
    top = 0.9 * U + 0.1 * U * (0.2 / 1.2)
    assert gap.measure == pytest.approx(0.5 * U * (U - top))
    assert overlap.measure == pytest.approx(0.5 * top * 0.2 * U)
    parent = h.parents[a]
    assert gap.codes[0] == parent
    assert {h.codes[a], h.codes[b], h.codes[h.at(3, 0.5, 1.5)]} <= set(gap.codes)
    assert gap.geometry is not None and gap.geometry.covers(shapely.Point(x + 0.99 * U, y + 0.99 * U))
    assert shapely.Point(gap.x, gap.y).within(gap.geometry)


def test_bow_tie_is_invalid_with_reason_and_repair_and_nothing_else() -> None:
    h = build()
    a = h.at(3, 0.5, 0.5)
    x, y, d = X0, Y0, 0.1
    # A 10 cm twist on the district's southern edge: the ring crosses itself.
    h.geoms[a] = shapely.Polygon(
        [
            (x, y),
            (x + 500, y),
            (x + 500 + 2 * d, y + d),
            (x + 500 + 2 * d, y - d),
            (x + 500, y + d),
            (x + 500 + 4 * d, y),
            (x + U, y),
            (x + U, y + U),
            (x, y + U),
        ]
    )
    assert not h.geoms[a].is_valid
    report = h.check()
    assert report.counts() == {"invalid_geometry": 1}, report.to_records()
    (bad,) = report.of_kind(InvalidGeometry)
    assert bad.codes == (h.codes[a],)
    assert "Self-intersection" in bad.reason
    assert bad.repaired.equals(shapely.make_valid(h.geoms[a]))
    assert bad.measure == pytest.approx(U * U, abs=1.0)


def test_whole_bow_tie_grid_is_invalid_and_its_missing_half_a_gap() -> None:
    h = build()
    a = h.at(3, 0.5, 0.5)
    x, y = X0, Y0
    h.geoms[a] = shapely.Polygon([(x, y), (x + U, y + U), (x + U, y), (x, y + U)])
    report = h.check()
    assert report.counts() == {"invalid_geometry": 1, "gap": 2}, report.to_records()
    assert all(h.codes[a] in p.codes for p in report.problems)


def test_duplicate_code_only() -> None:
    h = build()
    a, b = h.at(3, 0.5, 0.5), h.at(3, 1.5, 0.5)
    h.codes[b] = h.codes[a]
    report = h.check()
    assert report.counts() == {"duplicate_code": 1}, report.to_records()
    (dup,) = report.of_kind(DuplicateCode)
    assert dup.codes == (h.codes[a],)
    assert dup.measure == 2
    assert dup.indexes == tuple(sorted((a, b)))


def test_child_pushed_out_of_its_parent() -> None:
    h = build()
    a = h.at(3, 0.5, 0.5)
    h.geoms[a] = box(X0, Y0 - 50, X0 + U, Y0 + U)  # 50 m beyond the district's southern edge
    for kw in ({}, {"land": land_of(h)}):
        report = h.check(**kw)
        assert report.counts() == {"outside_parent": 1}, report.to_records()
        (out,) = report.problems
        assert out.codes == (h.codes[a], h.parents[a])
        assert out.measure == pytest.approx(50 * U)
        assert out.geometry is not None and out.geometry.area == pytest.approx(50 * U)


def test_sliver_only() -> None:
    strip = [cell(0, 0), cell(0, 1), cell(1, 1), cell(1, 0, 0.995), cell(1.995, 0, 0.005)]
    h = build({(0, 0): strip})
    report = h.check()
    assert report.counts() == {"sliver": 1}, report.to_records()
    (s,) = report.problems
    sl = h.codes[h.at(3, 1.9975, 0.5)]
    assert s.codes == (sl,)
    assert s.measure == pytest.approx(2 * 5 * U / (2 * U + 10))
    assert h.check(tolerances=Tolerances(sliver_width=4.0)).ok


def test_wrong_code_prefix_with_declared_parents() -> None:
    h = build()
    a = h.at(3, 0.5, 0.5)
    # Community 009 of the town does not exist: the code no longer starts with its parent's.
    h.codes[a] = h.codes[a][:9] + "009" + h.codes[a][12:]
    report = h.check(levels=h.levels, parents=h.parents)
    assert report.counts() == {"wrong_prefix": 1}, report.to_records()
    (wp,) = report.problems
    assert wp.codes == (h.codes[a], h.parents[a])
    # Without declared parents the code points at a parent that is not there.
    report = h.check()
    assert report.counts()["missing_parent"] == 1


def test_wrong_numbering_order() -> None:
    h = build()
    a, b = h.at(3, 0.5, 0.5), h.at(3, 1.5, 1.5)
    h.codes[a], h.codes[b] = h.codes[b], h.codes[a]
    report = h.check()
    assert report.counts() == {"numbering": 1}, report.to_records()
    (num,) = report.of_kind(Numbering)
    assert set(num.codes) == {h.codes[a], h.codes[b]}
    assert num.parent == h.parents[a]
    # The south-west area is read third (north row first), the north-east one second.
    assert dict(zip(num.codes, num.expected, strict=True)) == {h.codes[a]: 3, h.codes[b]: 2}


def test_numbers_must_run_from_one_without_holes() -> None:
    h = build()
    a = h.at(3, 1.5, 0.5)  # number 4 of its community
    assert h.codes[a].endswith("004")
    h.codes[a] = h.codes[a][:-3] + "007"
    report = h.check()
    assert report.counts() == {"numbering": 1}
    assert report.problems[0].codes == (h.codes[a],)


def test_exclave_is_an_unexpected_multipart() -> None:
    # A 100 m square inside the south-east area belongs to the north-west area.
    hole = cell(1.45, 0.45, 0.1, 0.1)
    areas = [
        cell(0, 1).union(hole),
        cell(1, 1),
        cell(0, 0),
        cell(1, 0).difference(hole),
    ]
    h = build({(0, 0): areas})
    report = h.check()
    assert report.counts() == {"unexpected_multipart": 1}, report.to_records()
    (mp,) = report.problems
    assert mp.codes == (h.codes[h.at(3, 0.5, 1.5)],)
    assert mp.measure == pytest.approx(100 * 100)
    assert mp.geometry is not None and mp.geometry.equals(hole)


def test_multipart_on_two_pieces_of_land_is_fine() -> None:
    h = build()
    a = h.at(3, 0.5, 0.5)
    island = cell(0.2, -0.8, 0.5, 0.5)
    h.geoms[a] = shapely.MultiPolygon([h.geoms[a], island])
    # The island is part of the town and community as well.
    for lv, x in ((1, 0.5), (2, 0.5)):
        i = h.at(lv, x, 0.5)
        h.geoms[i] = shapely.MultiPolygon([h.geoms[i], island])
    assert h.check().ok
    assert h.check(land=land_of(h)).ok
    # The same part in the lake (land without the island) is outside the land.
    report = h.check(land=land_of(h).difference(island))
    assert report.counts() == {"outside_land": 1}
    assert report.problems[0].measure == pytest.approx(island.area)


def test_land_not_covered_and_land_spilled() -> None:
    h = build()
    land = land_of(h).union(cell(8, 0, 0.5, 1))  # a strip of land east of the district
    report = h.check(land=land)
    assert report.counts() == {"gap": 1}
    (gap,) = report.problems
    assert gap.level == 1 and gap.measure == pytest.approx(0.5 * U * U)
    assert gap.codes == (h.codes[h.at(1, 7.5, 0.5)],)
    report = h.check(land=land_of(h).difference(cell(7.5, 3.5, 0.5, 0.5)))
    assert report.counts() == {"outside_land": 1}
    assert report.problems[0].codes == (h.codes[h.at(1, 7.5, 3.5)],)


def test_missing_child_leaves_its_parent_uncovered() -> None:
    h = build()
    a = h.at(3, 0.5, 0.5)
    for lst in (h.geoms, h.codes, h.parents, h.levels):
        del lst[a]
    report = h.check()
    assert report.counts() == {"gap": 1, "numbering": 1}  # and numbers 2..4 left in the community
    gap = report.of_kind(Gap)[0]
    assert gap.level == 3 and gap.measure == pytest.approx(U * U)
    assert gap.codes[0] == h.codes[h.at(2, 0.5, 0.5)]


def test_empty_and_non_polygon_geometries() -> None:
    h = build()
    a = h.at(3, 0.5, 0.5)
    h.geoms[a] = shapely.LineString([(X0, Y0), (X0 + U, Y0 + U)])
    b = h.at(3, 6.5, 3.5)
    h.geoms[b] = None  # type: ignore[call-overload]
    report = h.check()
    counts = report.counts()
    assert counts["not_polygon"] == 2
    assert {p.codes[0] for p in report.of_kind("not_polygon")} == {h.codes[a], h.codes[b]}
    # The uncovered areas they leave are gaps in their parents.
    assert counts["gap"] == 2


def test_malformed_codes_and_declared_levels() -> None:
    h = build()
    a = h.at(3, 0.5, 0.5)
    h.codes[a] = "32050600300100"  # 14 digits
    report = h.check()
    assert report.counts().get("malformed_code") == 1
    assert "not 15 digits" in report.of_kind("malformed_code")[0].message
    h = build()
    levels = list(h.levels)
    levels[a] = 2
    report = h.check(levels=levels, parents=h.parents)
    assert "code denotes level 3 but the grid is declared level 2" in str(report.to_records()[0]["message"])


def test_flat_mode_takes_any_code() -> None:
    h = build()
    idx = [i for i, lv in enumerate(h.levels) if lv == 3]
    geoms = [h.geoms[i] for i in idx]
    codes = [f"area {k}" for k in range(len(idx))]
    assert check_grids(geoms, codes, hierarchical=False).ok
    geoms[0] = geoms[0].buffer(10, join_style="mitre")
    report = check_grids(geoms, codes, hierarchical=False)
    assert set(report.counts()) == {"overlap"}
    assert all(p.codes[0] == "area 0" or "area 0" in p.codes for p in report.problems)


def test_report_records_and_geojson() -> None:
    h = build()
    a = h.at(3, 0.5, 0.5)
    h.geoms[a] = shapely.Polygon([(X0, Y0), (X0 + U, Y0), (X0 + 1.2 * U, Y0 + 0.9 * U), (X0, Y0 + U)])
    report = h.check()
    rows = report.to_records()
    assert [r["kind"] for r in rows] == ["gap", "overlap"]
    assert set(rows[0]) == {"kind", "level", "codes", "measure", "unit", "x", "y", "message"}
    assert rows[1]["unit"] == "m2" and "," in str(rows[1]["codes"])
    gj = report.to_geojson()
    json.dumps(gj)
    lon, lat = shapely.geometry.shape(gj["features"][0]["geometry"]).representative_point().coords[0]  # type: ignore[index]
    assert 120 < lon < 121.5 and 30.5 < lat < 32
    native = report.to_geojson(to_crs=None)
    assert native["crs"] == {"type": "name", "properties": {"name": "EPSG:4549"}}
    with pytest.raises(FrozenInstanceError):
        report.problems[0].measure = 0.0  # type: ignore[misc]


def test_input_errors() -> None:
    with pytest.raises(CodeError, match="2 geometries but 1 codes"):
        check_grids([cell(0, 0), cell(1, 0)], ["a"])
    with pytest.raises(CodeError, match="but 1 levels"):
        check_grids([cell(0, 0), cell(1, 0)], ["a", "b"], levels=[1])
    with pytest.raises(GeometryError, match="land must be a non-empty"):
        check_grids([cell(0, 0)], ["a"], land=shapely.Point(0, 0))


# --------------------------------------------------------------------------------------------
# Real boundaries, flat mode, against a brute-force oracle
# --------------------------------------------------------------------------------------------

REAL = [
    ("baltimore/baltimore_neighborhoods_2010_nad83.geojson", "LABEL", "EPSG:26985"),
    ("nyc/nyc_community_districts.geojson", "BoroCD", "EPSG:32618"),
    ("sf/sf_find_neighborhoods_117_fixed.geojson", "name", "EPSG:7131"),
    ("dc/dc_downtown_study_subareas.geojson", "Subarea", "EPSG:26985"),
    ("boston/boston_neighborhoods_clickthathood.geojson", "name", "EPSG:26986"),
]


def _load(realworld: Path, rel: str, field_: str, crs: str) -> tuple[np.ndarray, list[str]]:
    import geopandas as gpd

    df = gpd.read_file(realworld / rel).to_crs(crs)
    assert df.crs.axis_info[0].unit_name == "metre"
    return np.asarray(df.geometry.values, dtype=object), [str(v) for v in df[field_]]


@pytest.mark.parametrize(("rel", "field_", "crs"), REAL, ids=[r[0].split("/")[0] for r in REAL])
def test_real_boundaries_match_a_brute_force_oracle(realworld: Path, rel: str, field_: str, crs: str) -> None:
    geoms, codes = _load(realworld, rel, field_, crs)
    tol = Tolerances(gap_area=1.0, overlap_area=1.0, sliver_width=0.0)
    report = check_grids(geoms, codes, hierarchical=False, tolerances=tol, crs=crs)

    # Oracle: every invalid geometry; every pair of polygons, intersected by brute force.
    invalid = {codes[i] for i in range(len(codes)) if not geoms[i].is_valid}
    assert {p.codes[0] for p in report.of_kind("invalid_geometry")} == invalid
    fixed = [g if g.is_valid else shapely.make_valid(g) for g in geoms]
    fixed = [
        shapely.MultiPolygon([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"]) for g in fixed
    ]
    want: dict[tuple[str, ...], float] = {}
    b = shapely.bounds(np.asarray(fixed, dtype=object))
    for i, j in combinations(range(len(fixed)), 2):
        if b[i, 0] > b[j, 2] or b[j, 0] > b[i, 2] or b[i, 1] > b[j, 3] or b[j, 1] > b[i, 3]:
            continue
        area = fixed[i].intersection(fixed[j]).area
        if area > tol.overlap_area:
            want[tuple(sorted((codes[i], codes[j])))] = area
    got = {p.codes: p.measure for p in report.of_kind("overlap")}
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-6, abs=1e-3)

    # Gaps: the holes of the union, found here by rings rather than by an overlay of shells.
    union = shapely.union_all(fixed)
    holes = [shapely.Polygon(r) for part in shapely.get_parts(union) for r in part.interiors]
    hole_areas = sorted(a for a in (h.area for h in holes) if a > tol.gap_area)
    gap_areas = sorted(p.measure for p in report.of_kind("gap"))
    assert len(gap_areas) == len(hole_areas)
    assert np.allclose(gap_areas, hole_areas, rtol=1e-6, atol=1e-3)

    kinds = set(report.counts()) - {
        "invalid_geometry",
        "overlap",
        "gap",
        "duplicate_code",
        "unexpected_multipart",
    }
    assert not kinds, report.counts()


def test_boston_has_four_invalid_neighbourhoods(realworld: Path) -> None:
    geoms, codes = _load(realworld, "boston/boston_neighborhoods_clickthathood.geojson", "name", "EPSG:26986")
    report = check_grids(geoms, codes, hierarchical=False, crs="EPSG:26986")
    invalid = report.of_kind(InvalidGeometry)
    assert len(invalid) == 4
    for p in invalid:
        assert p.reason and p.repaired.is_valid


def test_children_of_a_parent_without_geometry_are_not_given_to_another() -> None:
    h = build()
    p = h.at(2, 2.5, 0.5)
    h.geoms[p] = None  # type: ignore[call-overload]
    report = h.check()
    assert report.counts() == {"not_polygon": 1, "gap": 1}, report.to_records()
    gap = report.of_kind(Gap)[0]
    assert gap.level == 2 and gap.measure == pytest.approx(4 * U * U)


def test_level_without_its_parent_level_is_checked_against_the_land() -> None:
    h = build()
    a = h.at(3, 0.5, 0.5)
    keep = [i for i, lv in enumerate(h.levels) if lv in (1, 3) and i != a]
    report = check_grids([h.geoms[i] for i in keep], [h.codes[i] for i in keep], land=land_of(h))
    # Numbering needs the parents, so only the hole in the land is reported.
    assert report.counts() == {"gap": 1}, report.to_records()
    assert report.of_kind(Gap)[0].level == 3
