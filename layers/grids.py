"""The grid layer: three nested levels with boundary generations, stored as WKB in EPSG:4549."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.store import Conn, Store
from settings import WORK_CRS

GRID_COLUMNS = ["code", "level", "parent_code", "name", "area_m2"]


def load_grids(store: Store, *, level: int | None = None, generation: int | None = None) -> gpd.GeoDataFrame:
    """Grids of one generation (the current one by default), optionally of one level.

    Columns ``code, level, parent_code, name, area_m2, geometry`` (EPSG:4549), ordered by code.
    """
    gen = store.current_generation() if generation is None else generation
    sql = "SELECT code, level, parent_code, name, area_m2, geom FROM grids WHERE generation = ?"
    params: list[object] = [gen]
    if level is not None:
        sql += " AND level = ?"
        params.append(level)
    rows = store.conn.execute(sql + " ORDER BY code", params).fetchall()
    frame = pd.DataFrame(rows, columns=[*GRID_COLUMNS, "geom"])
    geoms = shapely.from_wkb(frame.pop("geom").to_numpy()) if len(frame) else np.array([], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=WORK_CRS)


def write_grids(conn: Conn, grids: gpd.GeoDataFrame, *, generation: int) -> int:
    """Insert a whole generation of grids (inside the caller's transaction)."""
    if grids.crs is None or grids.crs.to_string() != WORK_CRS:
        grids = grids.to_crs(WORK_CRS)
    geoms = grids.geometry.to_numpy()
    bounds = shapely.bounds(geoms)
    rows = zip(
        grids["code"].astype(str),
        [generation] * len(grids),
        grids["level"].astype(int),
        grids["parent_code"].where(grids["parent_code"].notna(), None),
        grids["name"].astype(str),
        shapely.area(geoms).astype(float),
        *bounds.T.astype(float),
        shapely.to_wkb(geoms),
        strict=True,
    )
    conn.executemany(
        "INSERT INTO grids(code, generation, level, parent_code, name, area_m2, minx, miny, maxx, maxy, geom)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [
            (c, g, int(lv), p, n, float(a), float(x0), float(y0), float(x1), float(y1), w)
            for c, g, lv, p, n, a, x0, y0, x1, y1, w in rows
        ],
    )
    return len(grids)


def write_land(conn: Conn, land: shapely.Geometry, *, source: str) -> None:
    conn.execute(
        "INSERT INTO land(id, area_m2, source, geom) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE "
        "SET area_m2 = excluded.area_m2, source = excluded.source, geom = excluded.geom",
        (float(land.area), source, shapely.to_wkb(land)),
    )


def load_land(store: Store) -> shapely.Geometry:
    """The district's land in EPSG:4549 (what the grids of every generation must cover)."""
    row = store.conn.execute("SELECT geom FROM land WHERE id = 1").fetchone()
    if row is None:
        from layers.errors import StoreError

        raise StoreError(f"{store.path}: the store holds no land polygon")
    return shapely.from_wkb(row[0])
