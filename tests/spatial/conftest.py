"""Fixtures and the reference oracle for the spatial engine tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer

from spatial.locate import resolve_ties

# City boundary files and the property holding each area's name or code.
REALWORLD = {
    "baltimore": ("baltimore_neighborhoods_2010_nad83.geojson", "LABEL"),
    "nyc": ("nyc_community_districts.geojson", "BoroCD"),
    "sf": ("sf_find_neighborhoods_117_fixed.geojson", "name"),
    "dc": ("dc_downtown_study_subareas.geojson", "Subarea"),
    "boston": ("boston_neighborhoods_clickthathood.geojson", "name"),
}


def oracle_index(geoms_sorted: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """GEOS "intersects" (= covers, for a point) through an STRtree, then the tie rule.

    ``geoms_sorted`` must be in ascending code order, as :attr:`GridLocator.geoms` is.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    tree = shapely.STRtree(geoms_sorted)
    pi, gi = tree.query(shapely.points(x, y), predicate="intersects")
    return resolve_ties(pi, gi, x.shape[0])


def utm_for(lon: float, lat: float) -> CRS:
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def load_city(folder: Path, city: str) -> tuple[np.ndarray, np.ndarray, Transformer]:
    """Boundaries of one city projected to its UTM zone, their codes, and the lon/lat → UTM transformer."""
    fname, field = REALWORLD[city]
    data = json.loads((folder / city / fname).read_text(encoding="utf-8-sig"))
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in data["features"]])
    codes = np.array([str(f["properties"][field]) for f in data["features"]])
    lon, lat = shapely.get_coordinates(shapely.centroid(shapely.union_all(shapely.make_valid(geoms)))).ravel()
    tr = Transformer.from_crs("EPSG:4326", utm_for(lon, lat), always_xy=True)
    projected = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    return projected, codes, tr


def hard_points(
    geoms: np.ndarray, *, rng: np.random.Generator, n_random: int = 2000, max_vertices: int = 4000
) -> tuple[np.ndarray, np.ndarray]:
    """Points that stress a locator: vertices, edge midpoints, points 1e-9 either side of edges,
    and random points over the extent."""
    rings = shapely.get_rings(shapely.get_parts(geoms))
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = np.flatnonzero(ring[:-1] == ring[1:])
    if same.size > max_vertices:
        same = rng.choice(same, max_vertices, replace=False)
    a, b = xy[same], xy[same + 1]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    ok = length > 0
    a, b, d, length = a[ok], b[ok], d[ok], length[ok]
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / length[:, None]
    t = rng.uniform(0, 1, a.shape[0])[:, None]
    on = a + t * d
    mid = (a + b) / 2
    eps = 1e-9 * np.maximum(1.0, np.abs(on).max(axis=1))[:, None]
    pts = [a, mid, on, on + eps * normal, on - eps * normal, mid + 1e-7 * normal, mid - 1e-7 * normal]
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    pts.append(rng.uniform((minx, miny), (maxx, maxy), size=(n_random, 2)))
    allp = np.vstack(pts)
    return allp[:, 0].copy(), allp[:, 1].copy()


@pytest.fixture(scope="session")
def small_district() -> tuple[np.ndarray, np.ndarray]:
    from bench.bench_locate import synthetic_district

    return synthetic_district(n_grids=60, radius=3000.0, segment=15.0, seed=3)
