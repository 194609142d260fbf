"""Workloads the benchmarks and the tests share; not part of the product.

:func:`reshape_candidate` makes a clean candidate generation out of the current grids, for the
adoption benchmark, the concurrency probes and the planner's and surveyor's tests.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from spatial.topology import sequence_numbers

__all__ = ["reshape_candidate"]


def reshape_candidate(
    grids: gpd.GeoDataFrame, *, n: int = 20, seed: int = 0, max_radius: float = 150.0
) -> tuple[gpd.GeoDataFrame, list[tuple[str, str]]]:
    """A copy of ``grids`` where ``n`` pairs of neighbouring level-3 siblings trade a piece of land.

    For each pair (a, b) a disc centred on the middle of their shared boundary, small enough to
    stay inside a ∪ b, is cut out of ``a`` and added to ``b``: the coverage stays clean (the
    piece is computed once and moves whole), parents are unchanged, and the children's numbering
    is kept (a pair whose move would renumber its siblings is skipped).

    Returns the candidate and the ``(from, to)`` code pairs that were reshaped.
    """
    out = grids.copy()
    out = out.reset_index(drop=True)
    l3 = np.flatnonzero(out["level"].to_numpy() == 3)
    geoms = out.geometry.to_numpy().copy()
    codes = out["code"].astype(str).to_numpy(dtype=object)
    parents = out["parent_code"].astype(object).to_numpy(dtype=object)
    g3 = geoms[l3]
    tree = shapely.STRtree(g3)
    qi, qj = tree.query(g3, predicate="intersects")
    keep = (qi < qj) & (parents[l3][qi] == parents[l3][qj])
    pairs = np.column_stack([qi[keep], qj[keep]])
    rng = np.random.default_rng(seed)
    pairs = pairs[rng.permutation(len(pairs))]
    used: set[int] = set()
    done: list[tuple[str, str]] = []
    for i, j in pairs.tolist():
        if len(done) >= n:
            break
        if i in used or j in used:
            continue
        if rng.random() < 0.5:
            i, j = j, i
        a, b = g3[i], g3[j]
        shared = shapely.line_merge(shapely.intersection(a.boundary, b.boundary))
        if shared.is_empty or shared.length < 60.0:
            continue
        if shared.geom_type == "MultiLineString":
            shared = max(shapely.get_parts(shared), key=lambda s: s.length)
        if shared.geom_type != "LineString":
            continue
        centre = shared.interpolate(0.5, normalized=True)
        # The disc stays strictly inside a ∪ b: it crosses only their shared line, at a clear
        # angle. A disc grazing another edge (a neighbour, the shore) would leave a near-zero
        # angle that centimetres of rounding in an exported file turn into a self-intersection.
        clearance = shapely.distance(centre, shapely.union(a, b).boundary)
        radius = min(0.8 * clearance, max_radius, 0.25 * shared.length)
        if radius < 15.0:
            continue
        disc = centre.buffer(radius, quad_segs=16)
        new_a = shapely.difference(a, disc)
        # b takes what a gave up as "a ∪ b minus the new a", not "b ∪ piece": where a has a
        # vertex on a straight edge of b, the latter overlay leaves a zero-width spike along the
        # shared line, valid only until a file's rounding moves it. This way both sides of the new
        # edge are new_a's very vertices.
        new_b = shapely.difference(shapely.union(a, b), new_a)
        moved = a.area - new_a.area
        if (
            new_a.geom_type != "Polygon"
            or new_b.geom_type != "Polygon"
            or not new_a.is_valid
            or not new_b.is_valid
            or moved < 100.0
            or abs(new_b.area - b.area - moved) > 1e-6 * a.area
        ):
            continue
        sib = np.flatnonzero(parents[l3] == parents[l3][i])
        before = sequence_numbers(g3[sib])
        trial = g3[sib].copy()
        trial[sib == i] = new_a
        trial[sib == j] = new_b
        if not np.array_equal(before, sequence_numbers(trial)):
            continue
        g3[i], g3[j] = new_a, new_b
        used.update((i, j))
        done.append((str(codes[l3][i]), str(codes[l3][j])))
    geoms[l3] = g3
    out = out.set_geometry(gpd.GeoSeries(geoms, crs=grids.crs, index=out.index))
    if "area_m2" in out.columns:
        out["area_m2"] = shapely.area(geoms)
    return out, done
