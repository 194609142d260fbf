"""Grid outlines made light enough to send to a browser, without opening gaps between grids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

#: Simplification tolerance per grid level (metres): well under a pixel at the zoom each level
#: is looked at (district ~ z11, community ~ z13, management area ~ z14).
TOLERANCE_M = {1: 40.0, 2: 20.0, 3: 10.0}
#: Decimal places of lon/lat sent to the browser: 1e-5 degree is about 1 m here.
DECIMALS = 5


def display_grids(
    grids: gpd.GeoDataFrame, *, tolerance_m: float | None = None, decimals: int = DECIMALS
) -> gpd.GeoDataFrame:
    """Grids of ONE level simplified as a coverage, in WGS84, coordinates rounded.

    ``shapely.coverage_simplify`` moves each shared edge once for both neighbours, so the
    simplified grids still tile the land; plain ``simplify`` would move them independently and
    open slivers between grids. Rounding after the projection maps equal vertices to equal
    vertices, so shared edges stay shared.
    """
    if grids.crs is None:
        raise ValueError("grids without a CRS cannot be displayed")
    levels = set(grids["level"]) if "level" in grids else set()
    if len(levels) > 1:
        raise ValueError(f"simplify one level at a time, not levels {sorted(levels)} together")
    if tolerance_m is None:
        tolerance_m = TOLERANCE_M.get(next(iter(levels), 3), 10.0)
    work = grids.to_crs("EPSG:4549") if grids.crs.to_string() != "EPSG:4549" else grids
    geoms = work.geometry.to_numpy()
    if len(geoms) and tolerance_m > 0:
        geoms = shapely.coverage_simplify(geoms, tolerance_m)
    out = gpd.GeoDataFrame(work.drop(columns=work.geometry.name), geometry=geoms, crs="EPSG:4549")
    out = out.to_crs("EPSG:4326")
    rounded = shapely.transform(out.geometry.to_numpy(), lambda c: np.round(c, decimals))
    out = out.set_geometry(gpd.GeoSeries(rounded, index=out.index, crs="EPSG:4326"))
    return out


def lonlat_bounds(grids: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """West, south, east, north of the grids in WGS84."""
    g = grids.to_crs("EPSG:4326") if grids.crs.to_string() != "EPSG:4326" else grids
    w, s, e, n = g.total_bounds
    return float(w), float(s), float(e), float(n)
