"""The topology check on the generated Wuzhong grids: clean as generated; each injected defect found
with the codes involved, and nothing about any other grid reported."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import affinity

from layers.grids import load_grids, load_land
from layers.store import open_store
from spatial.topology import check_grids


@pytest.fixture(scope="module")
def wuzhong(small_store_path: Path) -> tuple[gpd.GeoDataFrame, shapely.Geometry]:
    with open_store(small_store_path, readonly=True) as store:
        return load_grids(store).reset_index(drop=True), load_land(store)


def _check(grids: gpd.GeoDataFrame, land: shapely.Geometry, codes: np.ndarray | None = None, **kw):
    return check_grids(
        grids.geometry.to_numpy(), grids["code"].to_numpy() if codes is None else codes, land=land, **kw
    )


def _siblings(grids: gpd.GeoDataFrame) -> tuple[int, int]:
    """Two level-3 grids of one parent sharing an edge that is not on the parent's boundary."""
    l3 = grids[grids["level"] == 3]
    for parent, kids in l3.groupby("parent_code"):
        if len(kids) < 3:
            continue
        pgeom = grids.loc[grids["code"] == parent].geometry.iloc[0]
        idx = kids.index.to_numpy()
        for i in idx:
            for j in idx:
                if i < j:
                    shared = shapely.intersection(grids.geometry[i].boundary, grids.geometry[j].boundary)
                    if shared.length > 200 and not shared.intersects(pgeom.boundary.buffer(1.0)):
                        return int(i), int(j)
    raise AssertionError("no pair of siblings with an inner shared edge")


def test_generated_grids_have_no_problem(wuzhong) -> None:
    grids, land = wuzhong
    report = _check(grids, land)
    assert report.ok, report.to_records()[:5]
    assert len(grids) == 14 + 205 + 887


def test_moved_shared_vertex_gives_gap_and_overlap_of_those_grids_only(wuzhong) -> None:
    grids, land = wuzhong
    a, b = _siblings(grids)
    ga, gb = grids.geometry[a], grids.geometry[b]
    edge = shapely.intersection(ga.boundary, gb.boundary)
    # Bend the shared edge in A only, at its middle: 30 m into B on one side of the bend
    # (overlap) and 30 m into A on the other side (gap).
    mid = edge.interpolate(0.5, normalized=True)
    p, q = edge.interpolate(0.25, normalized=True), edge.interpolate(0.75, normalized=True)
    dx, dy = q.x - p.x, q.y - p.y
    n = np.hypot(dx, dy)
    nx, ny = -dy / n * 30, dx / n * 30

    def wedge(a: shapely.Point, b: shapely.Point, sign: float) -> shapely.Polygon:
        return shapely.Polygon(
            [(a.x, a.y), (b.x, b.y), ((a.x + b.x) / 2 + sign * nx, (a.y + b.y) / 2 + sign * ny)]
        )

    sign = 1.0 if wedge(p, mid, 1.0).intersection(gb).area > wedge(p, mid, 1.0).area / 2 else -1.0
    into_b, into_a = wedge(p, mid, sign), wedge(mid, q, -sign)
    moved = grids.copy()
    moved.loc[a, "geometry"] = shapely.difference(shapely.union(ga, into_b), into_a)
    report = _check(moved, land)
    kinds = report.counts()
    assert set(kinds) == {"gap", "overlap"}, report.to_records()
    code_a, code_b = grids["code"][a], grids["code"][b]
    for problem in report.problems:
        assert code_a in problem.codes or code_b in problem.codes, problem
        assert problem.level == 3
    (overlap,) = report.of_kind("overlap")
    assert set(overlap.codes) == {code_a, code_b}
    assert overlap.measure == pytest.approx(into_b.area, rel=0.01)
    (gap,) = report.of_kind("gap")
    assert gap.measure == pytest.approx(into_a.area, rel=0.01)


def test_bow_tie_is_named(wuzhong) -> None:
    grids, land = wuzhong
    i = int(grids.index[grids["level"] == 3][100])
    g = grids.geometry[i]
    ring = np.asarray(g.exterior.coords) if g.geom_type == "Polygon" else None
    assert ring is not None
    x0, y0 = ring[0]
    x1, y1 = ring[1]
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    # A 10 cm twist on one of its edges: the ring crosses itself.
    ux, uy = (x1 - x0) / np.hypot(x1 - x0, y1 - y0) * 0.1, (y1 - y0) / np.hypot(x1 - x0, y1 - y0) * 0.1
    twist = [
        (mx, my),
        (mx + 2 * ux - uy, my + 2 * uy + ux),
        (mx + 2 * ux + uy, my + 2 * uy - ux),
        (mx + ux, my + uy),
    ]
    bad = shapely.Polygon([tuple(ring[0]), *twist, *map(tuple, ring[1:])], holes=g.interiors)
    assert not bad.is_valid
    broken = grids.copy()
    broken.loc[i, "geometry"] = bad
    report = _check(broken, land)
    assert "invalid_geometry" in report.counts()
    (inv,) = report.of_kind("invalid_geometry")
    assert inv.codes == (grids["code"][i],)
    assert "Self-intersection" in inv.reason
    assert all(grids["code"][i] in p.codes for p in report.problems), report.to_records()


def test_duplicate_code_and_wrong_prefix(wuzhong) -> None:
    grids, land = wuzhong
    l3 = grids.index[grids["level"] == 3].to_numpy()
    codes = grids["code"].to_numpy().copy()
    # Two siblings (the same community), so the only fault is the repeated code.
    parent = grids["parent_code"].to_numpy()
    k = next(k for k in range(10, len(l3) - 1) if parent[l3[k]] == parent[l3[k + 1]])
    a, b = int(l3[k]), int(l3[k + 1])
    codes[b] = codes[a]
    report = _check(grids, land, codes)
    assert set(report.counts()) == {"duplicate_code"}, report.to_records()
    assert report.of_kind("duplicate_code")[0].codes == (codes[a],)

    codes = grids["code"].to_numpy().copy()
    c = int(l3[20])
    wrong = codes[c][:9] + "999" + codes[c][12:]  # a community that does not exist in its town
    codes[c] = wrong
    # The planner's file says which parent each grid belongs to; the code must agree with it.
    report = _check(
        grids, land, codes, parents=grids["parent_code"].to_numpy(), levels=grids["level"].to_numpy()
    )
    assert set(report.counts()) == {"wrong_prefix"}, report.to_records()
    (bad,) = report.problems
    assert bad.codes[0] == wrong and bad.codes[1] == grids["parent_code"][c]


def test_child_pushed_out_of_its_parent(wuzhong) -> None:
    grids, land = wuzhong
    a, _ = _siblings(grids)
    moved = grids.copy()
    # 400 m in whichever direction pushes it over its community's boundary (grid sizes differ).
    parent = grids.loc[grids["code"] == grids["parent_code"][a]].geometry.iloc[0]
    shifts = [(400, 0), (-400, 0), (0, 400), (0, -400)]
    shifted = [affinity.translate(grids.geometry[a], dx, dy) for dx, dy in shifts]
    out_area = [shapely.difference(g, parent).area for g in shifted]
    moved.loc[a, "geometry"] = shifted[int(np.argmax(out_area))]
    report = _check(moved, land)
    code = grids["code"][a]
    assert "outside_parent" in report.counts(), report.to_records()
    out = report.of_kind("outside_parent")
    assert [p.codes[0] for p in out] == [code]
    for problem in report.problems:
        assert code in problem.codes, problem


def test_sliver_is_found(wuzhong) -> None:
    grids, land = wuzhong
    a, b = _siblings(grids)
    ga, gb = grids.geometry[a], grids.geometry[b]
    edge = shapely.intersection(ga.boundary, gb.boundary)
    strip = shapely.intersection(shapely.buffer(edge, 3.0, cap_style="flat"), gb)
    sliced = grids.copy()
    sliced.loc[b, "geometry"] = shapely.difference(gb, strip)
    extra = gpd.GeoDataFrame(
        {
            "code": [grids["code"][b][:12] + "999"],
            "level": [3],
            "parent_code": [grids["parent_code"][b]],
            "name": ["strip"],
        },
        geometry=[strip],
        crs=grids.crs,
    )
    with_strip = gpd.GeoDataFrame(
        gpd.pd.concat([sliced, extra], ignore_index=True), geometry="geometry", crs=grids.crs
    )
    report = _check(with_strip, land)
    slivers = report.of_kind("sliver")
    assert [s.codes for s in slivers] == [(extra["code"][0],)], report.to_records()
    assert slivers[0].measure < 6.0
