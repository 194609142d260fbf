from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from maps.geometry import display_grids, lonlat_bounds


def _wiggly_pair() -> gpd.GeoDataFrame:
    """Two grids sharing a zig-zag edge of many small steps (what simplification removes)."""
    x0, y0 = 557_000.0, 3_458_000.0
    ys = np.linspace(y0, y0 + 1000, 101)
    xs = x0 + 500 + np.where(np.arange(101) % 2 == 0, 0.0, 3.0)
    edge = list(zip(xs, ys, strict=True))
    left = shapely.Polygon([(x0, y0), *edge, (x0, y0 + 1000)])
    right = shapely.Polygon([(x0 + 1000, y0), (x0 + 1000, y0 + 1000), *edge[::-1]])
    return gpd.GeoDataFrame(
        {"code": ["a", "b"], "name": ["A", "B"], "level": [3, 3]}, geometry=[left, right], crs="EPSG:4549"
    )


def test_coverage_simplify_keeps_the_shared_edge_shared() -> None:
    g = _wiggly_pair()
    out = display_grids(g, tolerance_m=10.0)
    assert out.crs.to_string() == "EPSG:4326"
    a, b = out.geometry.to_numpy()
    assert shapely.get_num_coordinates(a) < shapely.get_num_coordinates(g.geometry.iloc[0]) / 5
    # no overlap and no gap: the two still meet along a line only
    assert shapely.intersection(a, b).area == pytest.approx(0.0, abs=1e-14)
    assert shapely.union_all([a, b]).area == pytest.approx(a.area + b.area, rel=1e-9)
    assert shapely.intersection(a, b).length > 0


def test_rounding_and_levels() -> None:
    out = display_grids(_wiggly_pair(), tolerance_m=0, decimals=5)
    coords = shapely.get_coordinates(out.geometry.to_numpy())
    assert np.allclose(coords, np.round(coords, 5))
    mixed = _wiggly_pair().assign(level=[2, 3])
    with pytest.raises(ValueError, match="one level at a time"):
        display_grids(mixed)
    w, s, e, n = lonlat_bounds(out)
    assert 120 < w < e < 121 and 31 < s < n < 32
