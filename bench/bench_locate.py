"""Benchmark of point → grid location against geopandas ``sjoin`` and shapely ``STRtree``.

``run_locate_benchmark`` works on any grids and points (the CLI feeds it the generated district);
``main`` runs it standalone on a synthetic district: Voronoi cells with wiggly, densely vertexed
boundaries, clipped to a district with lakes (holes) and an island inside a lake.

    python -m bench.bench_locate [--json] [--points N] [--grids N]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from spatial.locate import GridLocator, resolve_ties


def synthetic_district(
    *,
    n_grids: int = 887,
    radius: float = 17_000.0,
    segment: float = 2.0,
    seed: int = 0,
    origin: tuple[float, float] = (520_000.0, 3_460_000.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Grid polygons and 15-digit codes of a synthetic district in metres.

    The district is a noisy disc (``radius`` ≈ 17 km gives ≈ 900 km²) with two lakes, one of them
    holding an island; the grids are Voronoi cells whose shared boundaries are segmentised every
    ``segment`` metres and bent by a smooth displacement field, so a grid has thousands of vertices
    and some grids are cut into several parts by a lake.
    """
    rng = np.random.default_rng(seed)
    cx, cy = origin
    t = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    wobble = 1 + 0.08 * np.sin(3 * t + 1) + 0.05 * np.sin(7 * t + 2) + 0.02 * np.sin(23 * t)
    outer = shapely.Polygon(np.c_[cx + radius * wobble * np.cos(t), cy + radius * wobble * np.sin(t)])
    lake1 = shapely.Point(cx + 0.35 * radius, cy - 0.2 * radius).buffer(0.22 * radius, quad_segs=64)
    lake2 = shapely.Point(cx - 0.45 * radius, cy + 0.3 * radius).buffer(0.08 * radius, quad_segs=32)
    island = shapely.Point(cx + 0.38 * radius, cy - 0.18 * radius).buffer(0.07 * radius, quad_segs=32)
    # Ponds small enough to sit inside one grid make holes; an islet in a pond makes a grid whose
    # part lies inside its own hole; a river cuts grids into several parts.
    pond_xy = rng.uniform(-0.6 * radius, 0.6 * radius, size=(12, 2)) + np.array([cx, cy])
    ponds = shapely.buffer(shapely.points(pond_xy), rng.uniform(120, 300, 12), quad_segs=16)
    islets = shapely.buffer(shapely.points(pond_xy[:4]), 60.0, quad_segs=8)
    river = shapely.LineString(
        np.c_[
            np.linspace(cx - radius, cx + radius, 400),
            cy + 0.5 * radius + 900 * np.sin(np.linspace(0, 9, 400)),
        ]
    ).buffer(60.0)
    water = shapely.union_all([lake1, lake2, river, *ponds])
    land = outer.difference(water).union(island).union(shapely.union_all(islets))
    seeds = np.empty((0, 2))
    while seeds.shape[0] < n_grids:
        cand = rng.uniform(-radius * 1.1, radius * 1.1, size=(4 * n_grids, 2)) + np.array([cx, cy])
        cand = cand[shapely.contains_xy(land, cand[:, 0], cand[:, 1])]
        seeds = np.vstack([seeds, cand])[:n_grids]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=outer.buffer(radius))
    )
    cells = shapely.segmentize(cells, max_segment_length=segment)
    coords = shapely.get_coordinates(cells)
    amp, lam = 25.0, 400.0
    bent = (
        coords
        + amp
        * np.c_[
            np.sin(coords[:, 1] / lam + 0.3) + 0.5 * np.sin(coords[:, 0] / (0.37 * lam)),
            np.sin(coords[:, 0] / lam + 1.1) + 0.5 * np.sin(coords[:, 1] / (0.41 * lam)),
        ]
    )
    cells = shapely.set_coordinates(cells, bent)
    cells = shapely.make_valid(cells)
    grids = shapely.intersection(cells, land)
    grids = np.array([_polygonal(g) for g in grids], dtype=object)
    keep = ~shapely.is_empty(grids)
    grids = grids[keep]
    # Codes: county 320506, town, community and sequence; west→east order is irrelevant here.
    n = grids.shape[0]
    codes = np.array(
        [f"320506{i // 64 + 1:03d}{(i // 4) % 16 + 1:03d}{i % 4 + 1:03d}" for i in rng.permutation(n)]
    )
    return grids, codes


def _polygonal(g: shapely.Geometry) -> shapely.Geometry:
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    polys = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polys) if polys else shapely.Polygon()


def synthetic_points(
    geoms: Sequence[shapely.Geometry] | np.ndarray, n: int, *, seed: int = 1, clustered: float = 0.7
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points over the grids' extent: a share ``clustered`` around 200 town-like centres."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms))
    nc = int(n * clustered)
    centres = rng.uniform((minx, miny), (maxx, maxy), size=(200, 2))
    pick = rng.integers(0, 200, nc)
    spread = rng.uniform(200, 2500, 200)[pick]
    pts_c = centres[pick] + rng.normal(size=(nc, 2)) * spread[:, None]
    pts_u = rng.uniform((minx, miny), (maxx, maxy), size=(n - nc, 2))
    pts = np.vstack([pts_c, pts_u])
    rng.shuffle(pts)
    return pts[:, 0].copy(), pts[:, 1].copy()


def oracle_index(geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Reference answer: STRtree "intersects" pairs (= covers for points) plus the tie rule.

    ``geoms`` must be in ascending code order.
    """
    tree = shapely.STRtree(geoms)
    pi, gi = tree.query(shapely.points(x, y), predicate="intersects")
    return resolve_ties(pi, gi, x.shape[0])


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_locate_benchmark(
    geoms: Sequence[shapely.Geometry] | np.ndarray,
    codes: Sequence[str] | np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    repeat: int = 3,
    single_calls: int = 10_000,
    with_sjoin: bool = True,
) -> dict[str, Any]:
    """Time :class:`GridLocator` against geopandas ``sjoin`` and shapely ``STRtree`` on the same points.

    Times are the best of ``repeat`` runs, in seconds unless the key says otherwise. Disagreements
    are counted against the oracle (STRtree "intersects" + tie rule) on every point, and against
    ``sjoin(predicate="within")`` on the points where "within" is unambiguous (points it assigns to
    exactly one grid, plus points no grid covers).
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    res: dict[str, Any] = {"grids": len(codes), "points": int(x.shape[0])}
    t_build, loc = _best(lambda: GridLocator(geoms, codes), repeat)
    res["build_s"] = t_build
    res["vertices"] = int(shapely.get_num_coordinates(np.asarray(geoms, dtype=object)).sum())
    res["locator_stats"] = dict(loc.stats)
    t_loc, ours = _best(lambda: loc.locate_index(x, y), repeat)
    res["locate_s"] = t_loc
    t_codes, _ = _best(lambda: loc.locate(x, y), 1)
    res["locate_codes_s"] = t_codes
    blob = pickle.dumps(loc, protocol=pickle.HIGHEST_PROTOCOL)
    res["pickle_mb"] = len(blob) / 1e6
    res["unpickle_s"], _ = _best(lambda: pickle.loads(blob), 1)

    geoms_sorted = loc.geoms
    t_tree, oracle = _best(lambda: oracle_index(geoms_sorted, x, y), repeat)
    res["strtree_intersects_s"] = t_tree
    res["disagreements_vs_oracle"] = int((ours != oracle).sum())
    res["speedup_vs_strtree"] = t_tree / t_loc
    res["unassigned_points"] = int((ours < 0).sum())

    # Border share: points resolved by the exact test.
    if with_sjoin:
        try:
            import geopandas as gpd
        except ImportError:  # pragma: no cover - geopandas is a dev dependency only
            with_sjoin = False
    if with_sjoin:
        gdf = gpd.GeoDataFrame({"code": loc.codes}, geometry=list(geoms_sorted))
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y))

        def sj(pred: str) -> Any:
            return gpd.sjoin(pts, gdf, predicate=pred, how="left")

        t_sj, joined = _best(lambda: sj("within"), repeat)
        res["sjoin_within_s"] = t_sj
        res["speedup_vs_sjoin_within"] = t_sj / t_loc
        t_sji, joined_i = _best(lambda: sj("intersects"), 1)
        res["sjoin_intersects_s"] = t_sji
        idx = np.asarray(joined.index)
        right = joined["index_right"].to_numpy()
        hits = ~np.isnan(right.astype(np.float64))
        per_point = np.bincount(idx[hits], minlength=x.shape[0])
        within_one = np.full(x.shape[0], -1, dtype=np.int64)
        one = hits & (per_point[idx] == 1)
        within_one[idx[one]] = right[one].astype(np.int64)
        unambiguous = (per_point == 1) | (oracle < 0)
        res["sjoin_within_unambiguous_points"] = int(unambiguous.sum())
        res["disagreements_vs_sjoin_within"] = int((within_one != ours)[unambiguous].sum())
        res["sjoin_within_dropped_boundary_points"] = int(((per_point == 0) & (oracle >= 0)).sum())
        idx_i = np.asarray(joined_i.index)
        res["sjoin_intersects_duplicate_rows"] = int(idx_i.shape[0] - np.unique(idx_i).shape[0])

    # Scalar path: median over single calls on points drawn from the same set.
    rng = np.random.default_rng(7)
    pick = rng.integers(0, x.shape[0], single_calls)
    xs, ys = x[pick].tolist(), y[pick].tolist()
    times = np.empty(single_calls)
    one_fn = loc.locate_one
    pc = time.perf_counter
    for i in range(single_calls):  # the scalar API is what is being timed
        t0 = pc()
        one_fn(xs[i], ys[i])
        times[i] = pc() - t0
    res["single_point_median_us"] = float(np.median(times) * 1e6)
    res["single_point_p99_us"] = float(np.percentile(times, 99) * 1e6)
    single = np.array([one_fn(a, b) for a, b in zip(xs[:2000], ys[:2000], strict=True)], dtype=object)
    res["single_point_disagreements"] = int((single != loc._codes_obj[oracle[pick[:2000]]]).sum())
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--points", type=int, default=680_000)
    ap.add_argument("--grids", type=int, default=887)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-sjoin", action="store_true", help="skip geopandas")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    geoms, codes = synthetic_district(n_grids=args.grids)
    x, y = synthetic_points(geoms, args.points)
    setup = time.perf_counter() - t0
    res = run_locate_benchmark(geoms, codes, x, y, repeat=args.repeat, with_sjoin=not args.no_sjoin)
    res["synthetic_setup_s"] = setup
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for k, v in res.items():
            print(f"{k:40s} {v:.4g}" if isinstance(v, float) else f"{k:40s} {v}")
    return 0 if res["disagreements_vs_oracle"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
