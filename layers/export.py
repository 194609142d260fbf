"""Export a layer of the store to GeoPackage, GeoJSON, GeoParquet, CSV or XLSX.

Column names are part of the interface: grids carry ``code, level, parent_code, name``;
components carry ``code, grid_code``, their class and their three bodies; event types ``code``.
Files are written beside the target and renamed into place, so a failed export leaves no
half-written file. Personal data of grid staff is masked unless ``reveal_personal`` is set.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import shapely

from layers.components import COMPONENT_COLUMNS, load_components
from layers.errors import InputFileError
from layers.grids import load_grids
from layers.staff import mask_personal
from layers.store import Store, table_columns
from settings import WORK_CRS
from spatial.errors import CRSError

LAYERS = ("grids", "land", "components", "cases", "event_types", "departments", "staff")
FORMATS = ("gpkg", "geojson", "parquet", "csv", "xlsx")
EXPORT_CRS = ("EPSG:4326", "EPSG:4490", "EPSG:4549")
XLSX_MAX_ROWS = 1_048_575


def _crs(crs: str) -> str:
    norm = crs.strip().upper()
    if norm not in EXPORT_CRS:
        raise CRSError(f"cannot export in {crs!r}; choose one of {', '.join(EXPORT_CRS)}")
    pyproj.CRS.from_user_input(norm)
    return norm


def layer_frame(
    store: Store, layer: str, *, crs: str = "EPSG:4326", reveal_personal: bool = False
) -> pd.DataFrame | gpd.GeoDataFrame:
    """The layer as it is exported: a GeoDataFrame for spatial layers, else a DataFrame."""
    if layer not in LAYERS:
        raise InputFileError(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}")
    target = _crs(crs)
    conn = store.conn
    if layer == "grids":
        grids = load_grids(store)
        gen = store.current_generation()
        valid_from, valid_to = conn.execute(
            "SELECT valid_from, valid_to FROM generations WHERE id = ?", (gen,)
        ).fetchone()
        grids["generation"] = gen
        grids["valid_from"] = valid_from
        grids["valid_to"] = valid_to
        return grids.to_crs(target)
    if layer == "land":
        # The polygon the grids tile (the district's land, its holes not land): what a planner
        # checks a redrawn grid file against (``check-grids --land``).
        row = conn.execute("SELECT area_m2, source, geom FROM land WHERE id = 1").fetchone()
        if row is None:
            raise InputFileError(f"{store.path}: the store holds no land polygon")
        land = gpd.GeoDataFrame(
            {"area_km2": [round(float(row[0]) / 1e6, 3)], "source": [row[1]]},
            geometry=[shapely.from_wkb(row[2])],
            crs=WORK_CRS,
        )
        return land.to_crs(target)
    if layer == "components":
        comps = load_components(store)
        classes = store.read_arrow(
            "SELECT code AS class_code, major_code, major_name, name AS class_name FROM component_classes"
        ).to_pandas()
        comps = comps.merge(classes, on="class_code", how="left")
        # The stored columns, the class named beside its code and the position as geometry.
        named = ["code", "grid_code", "class_code", "class_name", "major_code", "major_name"]
        cols = [*named, *(c for c in COMPONENT_COLUMNS if c not in (*named, "x", "y"))]
        return _points(comps, cols, target)
    if layer == "cases":
        cases = store.read_arrow(f"SELECT {', '.join(table_columns('cases'))} FROM cases").to_pandas()
        cols = [c for c in cases.columns if c not in ("x", "y")]
        return _points(cases, cols, target)
    if layer == "staff":
        staff = store.read_arrow(
            "SELECT id, grid_code, role, specialty, name, gender, id_number, phone FROM staff"
        ).to_pandas()
        return staff if reveal_personal else mask_personal(staff)
    return store.read_arrow(f"SELECT {', '.join(table_columns(layer))} FROM {layer}").to_pandas()


def _points(frame: pd.DataFrame, cols: list[str], crs: str) -> gpd.GeoDataFrame:
    geom = shapely.points(frame["x"].to_numpy(), frame["y"].to_numpy())
    gdf = gpd.GeoDataFrame(frame[cols], geometry=geom, crs=WORK_CRS)
    return gdf.to_crs(crs) if crs != WORK_CRS else gdf


def export_layer(
    store: Store,
    *,
    layer: str,
    fmt: str,
    out: str | os.PathLike[str],
    crs: str = "EPSG:4326",
    reveal_personal: bool = False,
) -> int:
    """Write one layer to ``out``; returns the number of rows written."""
    if fmt not in FORMATS:
        raise InputFileError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out_path = Path(out)
    if out_path.is_dir():
        raise InputFileError(f"{out_path} is a folder; give a file name")
    if not out_path.parent.exists():
        raise InputFileError(f"the folder {out_path.parent} does not exist")
    frame = layer_frame(store, layer, crs=crs, reveal_personal=reveal_personal)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=f".{fmt}", dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        _write(frame, tmp, fmt=fmt, layer=layer)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(frame)


def _write(frame: pd.DataFrame, path: Path, *, fmt: str, layer: str) -> None:
    spatial = isinstance(frame, gpd.GeoDataFrame)
    if fmt == "gpkg":
        import pyogrio

        pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG")
    elif fmt == "geojson":
        import pyogrio

        if spatial:
            pyogrio.write_dataframe(frame, path, driver="GeoJSON")
        else:
            gdf = gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs="EPSG:4326")
            pyogrio.write_dataframe(gdf, path, driver="GeoJSON")
    elif fmt == "parquet":
        # A GeoDataFrame writes GeoParquet (geo metadata, WKB geometry); a table plain Parquet.
        frame.to_parquet(path, index=False)
    elif fmt == "csv":
        _flat(frame).to_csv(path, index=False, encoding="utf-8-sig")
    elif fmt == "xlsx":
        if spatial and layer in ("grids", "land"):
            what = "grid" if layer == "grids" else "land"
            raise InputFileError(
                f"XLSX cannot hold {what} polygons (a cell holds at most 32,767 characters); "
                f"export {layer} as gpkg, geojson, parquet or csv (WKT)"
            )
        if len(frame) > XLSX_MAX_ROWS:
            raise InputFileError(
                f"{len(frame):,} rows do not fit in one XLSX sheet (at most {XLSX_MAX_ROWS:,}); "
                "export as csv, parquet or gpkg"
            )
        _flat(frame).to_excel(path, index=False, sheet_name=layer, engine="openpyxl")


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Geometry as columns a spreadsheet can hold: lon/lat (or x/y) for points, WKT otherwise."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return frame
    geoms = frame.geometry.to_numpy()
    flat = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if len(frame) and (shapely.get_type_id(geoms) == 0).all():
        geographic = frame.crs is not None and frame.crs.is_geographic
        a, b = ("lon", "lat") if geographic else ("x", "y")
        flat[a] = shapely.get_x(geoms)
        flat[b] = shapely.get_y(geoms)
    else:
        flat["wkt"] = shapely.to_wkt(geoms, rounding_precision=7 if frame.crs.is_geographic else 3)
    return flat
