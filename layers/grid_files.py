"""Reading grid files: GeoJSON, GeoPackage, Shapefile, GeoParquet, into the working CRS.

A grid file has one polygon feature per grid and a code field; optionally parent, level and name
fields. Reading refuses, with the reason, what cannot be trusted: an unreadable file, a file
without features, a CRS that is missing (or, for GeoJSON, coordinates that are not the lon/lat
RFC 7946 implies), a missing code field, polygons mixed with points or lines. Defects of the grids
themselves (invalid rings, duplicate codes…) are not refused here: :func:`spatial.topology.check_grids`
reports them all at once.

Levels and parents not given by a field are read from the code (see
:class:`spatial.topology.CodeScheme`): for 15-digit codes ``…000000`` is level 1, ``…000`` level 2,
anything else level 3; the parent is the code's prefix padded with zeros.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from layers.errors import InputFileError
from spatial.errors import CRSError
from spatial.topology import MAX_PROJECTED_M, WORK_CRS, CodeScheme

#: Suffixes read by GDAL (through pyogrio) and by pyarrow (GeoParquet).
GRID_FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
}
_POLYGONAL = {"Polygon", "MultiPolygon"}


class GridFileError(InputFileError):
    """A grid or land file cannot be used as it is; the message says why and what to change."""


class GridFileCRSError(GridFileError, CRSError):
    """A grid or land file has no CRS, or coordinates that do not fit the CRS it implies."""


@dataclass(frozen=True, kw_only=True)
class GridFile:
    """Grids read from a file, in the working CRS.

    Attributes
    ----------
    path
        The file read.
    source_crs
        The CRS the file declared (as ``AUTHORITY:CODE`` where it has one, else WKT).
    geoms
        One geometry per feature (``None`` for a feature without geometry), in EPSG:4549.
    codes
        The code of each feature, as text.
    levels
        The level of each grid: from the level field, else read from the code (0 where the code
        does not tell).
    parents
        The parent code of each grid (``None`` at level 1 or where the code does not tell): from
        the parent field, else from the code.
    names
        Names from the name field, else ``None``.
    fields
        The attribute fields of the file.
    level_field, parent_field
        The fields levels and parents came from (``None``: read from the code).
    """

    path: Path
    source_crs: str
    geoms: np.ndarray
    codes: np.ndarray
    levels: np.ndarray
    parents: np.ndarray
    names: np.ndarray | None
    fields: tuple[str, ...]
    level_field: str | None = None
    parent_field: str | None = None

    def __len__(self) -> int:
        return int(self.codes.size)


def _frame(path: Path, *, layer: str | None):  # -> geopandas.GeoDataFrame
    """Read the file into a GeoDataFrame, turning every reader failure into a GridFileError."""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    if not path.exists():
        raise GridFileError(f"{path.name}: no such file")
    if not path.is_file():
        raise GridFileError(f"{path.name}: not a file")
    fmt = GRID_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise GridFileError(
            f"{path.name}: unknown file type {path.suffix or '(none)'}; use "
            + ", ".join(sorted(set(GRID_FORMATS)))
        )
    if path.stat().st_size == 0:
        raise GridFileError(f"{path.name}: the file is empty")
    if fmt == "GeoParquet":
        return _parquet_frame(path)
    try:
        layers = pyogrio.list_layers(path)
        if layer is None and len(layers) > 1:
            names = ", ".join(str(n) for n in layers[:, 0])
            raise GridFileError(f"{path.name}: {len(layers)} layers ({names}); say which one to read")
        with warnings.catch_warnings():
            # GDAL's notes about field types are not the user's business; failures raise.
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            return pyogrio.read_dataframe(path, layer=layer)
    except (DataSourceError, DataLayerError) as exc:
        raise GridFileError(f"{path.name}: cannot be read as {fmt}: {exc}") from exc


def _parquet_frame(path: Path):  # -> geopandas.GeoDataFrame
    import geopandas as gpd
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError) as exc:
        raise GridFileError(f"{path.name}: cannot be read as GeoParquet: {exc}") from exc
    if b"geo" not in meta:
        raise GridFileError(
            f"{path.name}: a Parquet file without GeoParquet 'geo' metadata (no geometry column)"
        )
    geo = json.loads(meta[b"geo"])
    column = geo.get("primary_column", "geometry")
    if "crs" in geo.get("columns", {}).get(column, {}) and geo["columns"][column]["crs"] is None:
        raise GridFileCRSError(
            f"{path.name}: the GeoParquet geometry column declares no CRS (crs: null); write it with its CRS"
        )
    try:
        df = gpd.read_parquet(path)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise GridFileError(f"{path.name}: cannot be read as GeoParquet: {exc}") from exc
    # By the GeoParquet spec a missing crs key means OGC:CRS84, as RFC 7946 does for GeoJSON.
    df.attrs["lonlat_by_default"] = "crs" not in geo.get("columns", {}).get(column, {})
    return df


def _crs_label(crs) -> str:  # crs: pyproj.CRS
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_wkt()


def _num(v: float) -> str:
    """A coordinate for a message: whole units, or three digits when absurdly large."""
    return f"{v:.0f}" if abs(v) < 1e9 else f"{v:.3g}"


def _far_features(df) -> np.ndarray:  # df: geopandas.GeoDataFrame with a CRS
    """Per feature: a vertex NaN, infinite or out of its CRS's range (lon/lat, or ±1e8 m)."""
    geoms = np.asarray(df.geometry.values, dtype=object)
    xy, which = shapely.get_coordinates(geoms, return_index=True)
    with np.errstate(invalid="ignore"):
        bad_vertex = ~np.isfinite(xy).all(axis=1)
        if df.crs.is_geographic:
            bad_vertex |= (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90)
        else:
            bad_vertex |= (np.abs(xy) > MAX_PROJECTED_M).any(axis=1)
    far = np.zeros(len(geoms), dtype=bool)
    far[which[bad_vertex]] = True
    return far


def _to_work(df, path: Path, *, keep_far: bool = False):  # -> geopandas.GeoDataFrame
    """Check the CRS against the coordinates, then reproject to the working CRS.

    With ``keep_far``, features with a vertex out of the CRS's range (a corrupt ``1e300``) are
    not held against the file's CRS as long as others fit it: they are reprojected as they are
    (to non-finite or out-of-range coordinates), for :func:`spatial.topology.check_grids` to
    report each by its code. When every feature is out of range the CRS is what is wrong.
    """
    if df.crs is None:
        raise GridFileCRSError(
            f"{path.name}: no CRS (a Shapefile needs its .prj, a GeoPackage layer a defined SRS, a "
            "GeoParquet file a crs); declare the CRS the coordinates are in"
        )
    geoms = np.asarray(df.geometry.values, dtype=object)
    judged = ~_far_features(df) if keep_far else np.ones(len(geoms), dtype=bool)
    if not judged.any():
        judged[:] = True
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms[judged])
    if not np.all(np.isfinite([xmin, ymin, xmax, ymax])):
        raise GridFileError(f"{path.name}: coordinates are not finite numbers")
    implied = path.suffix.lower() in (".geojson", ".json") or df.attrs.get("lonlat_by_default", False)
    if df.crs.is_geographic and not (xmin >= -180 and xmax <= 180 and ymin >= -90 and ymax <= 90):
        what = "RFC 7946 makes GeoJSON lon/lat" if implied else f"its CRS {_crs_label(df.crs)} is lon/lat"
        raise GridFileCRSError(
            f"{path.name}: coordinates reach ({_num(xmin)}, {_num(ymin)})–({_num(xmax)}, {_num(ymax)}), "
            f"which is not lon/lat, but {what}; the CRS must be declared"
        )
    with warnings.catch_warnings():
        # A kept out-of-range vertex projects to inf; it is reported per grid, not warned about.
        warnings.simplefilter("ignore", RuntimeWarning)
        out = df.to_crs(WORK_CRS)
    projected = np.asarray(out.geometry.values, dtype=object)[judged]
    if not np.all(np.isfinite(shapely.total_bounds(projected))):
        raise GridFileCRSError(
            f"{path.name}: coordinates do not project from {_crs_label(df.crs)} to {WORK_CRS}"
        )
    return out


def _text(values) -> np.ndarray:  # values: pandas.Series
    """Field values as text; whole floats (1.0) lose their '.0', missing values become ''."""
    out = np.empty(len(values), dtype=object)
    for k, v in enumerate(values.tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out[k] = ""
        elif isinstance(v, float) and v.is_integer():
            out[k] = str(int(v))
        else:
            out[k] = str(v).strip()
    return out


def _matching_field(name: str, fields: tuple[str, ...]) -> str | None:
    if name in fields:
        return name
    # Shapefile field names are cut to 10 characters and some tools change case.
    for f in fields:
        if f.lower() == name.lower() or (len(name) > 10 and f.lower() == name[:10].lower()):
            return f
    return None


def _has_field(name: str, fields: tuple[str, ...]) -> bool:
    return _matching_field(name, fields) is not None


def _field(df, name: str | None, what: str, path: Path, fields: tuple[str, ...]) -> str | None:
    if name is None:
        return None
    if name in df.columns:
        return name
    found = _matching_field(name, fields)
    if found is not None:
        return found
    raise GridFileError(
        f"{path.name}: no {what} field {name!r}; the fields are: {', '.join(fields) or '(none)'}"
    )


def read_grid_file(
    path: str | os.PathLike[str],
    *,
    code_field: str = "code",
    parent_field: str | None = None,
    level_field: str | None = None,
    name_field: str | None = None,
    name_optional: bool = False,
    layer: str | None = None,
) -> GridFile:
    """Read grids from a GeoJSON, GeoPackage, Shapefile or GeoParquet file into EPSG:4549.

    Parameters
    ----------
    path
        The file.
    code_field
        Field holding the grid code.
    parent_field
        Field holding the parent's code; by default the parent is read from the code.
    level_field
        Field holding the level (1, 2, 3); by default the level is read from the code.
    name_field
        Field holding the grid's name.
    name_optional
        A file without ``name_field`` is read without names instead of being refused.
    layer
        Layer of a multi-layer file (GeoPackage); required when there are several.

    Raises
    ------
    GridFileError
        The file cannot be read, has no feature, lacks a field, or mixes polygons with other types.
    GridFileCRSError
        The file declares no CRS, or its coordinates do not fit the CRS it implies.
    """
    p = Path(path)
    df = _frame(p, layer=layer)
    fields = tuple(str(c) for c in df.columns if c != df.geometry.name)
    if len(df) == 0:
        raise GridFileError(f"{p.name}: no features")
    code_col = _field(df, code_field, "code", p, fields)
    assert code_col is not None
    parent_col = _field(df, parent_field, "parent", p, fields)
    level_col = _field(df, level_field, "level", p, fields)
    if name_optional and name_field is not None and not _has_field(name_field, fields):
        name_field = None
    name_col = _field(df, name_field, "name", p, fields)

    types = df.geometry.geom_type
    present = types.dropna()
    other = present[~present.isin(sorted(_POLYGONAL))]
    if len(other):
        counts = present.value_counts()
        listing = ", ".join(f"{n} {t}" for t, n in counts.items())
        if other.size == present.size:
            raise GridFileError(f"{p.name}: grids must be polygons, the file holds {listing}")
        raise GridFileError(
            f"{p.name}: polygons mixed with other geometry types ({listing}); keep only the grids"
        )
    if present.empty:
        raise GridFileError(f"{p.name}: no feature has a geometry")
    source_crs = _crs_label(df.crs) if df.crs is not None else ""
    df = _to_work(df, p, keep_far=True)

    codes = _text(df[code_col])
    if level_col is not None:
        raw = _text(df[level_col])
        bad = [r for r in raw if not r.isdigit()]
        if bad:
            raise GridFileError(
                f"{p.name}: level field {level_col!r} holds {bad[0]!r}; levels are whole numbers"
            )
        levels = np.array([int(r) for r in raw], dtype=np.int64)
    else:
        levels = _levels_from_codes(codes)
    if parent_col is not None:
        parents = np.array([v or None for v in _text(df[parent_col])], dtype=object)
    else:
        parents = _parents_from_codes(codes, levels)
    geoms = np.asarray(df.geometry.values, dtype=object)
    geoms = geoms.copy()
    geoms[shapely.is_missing(geoms)] = None
    return GridFile(
        path=p,
        source_crs=source_crs,
        geoms=geoms,
        codes=codes,
        levels=levels,
        parents=parents,
        names=_text(df[name_col]) if name_col is not None else None,
        fields=fields,
        level_field=level_col,
        parent_field=parent_col,
    )


def _scheme_for(codes: np.ndarray) -> CodeScheme:
    lengths = [len(c) for c in codes if c.isascii() and c.isdigit()]
    if lengths:
        try:
            return CodeScheme.for_length(max(set(lengths), key=lengths.count))
        except ValueError:
            pass
    return CodeScheme()


def _levels_from_codes(codes: np.ndarray) -> np.ndarray:
    scheme = _scheme_for(codes)
    out = np.zeros(codes.size, dtype=np.int64)
    for k, c in enumerate(codes):
        try:
            out[k] = scheme.level_of(c)
        except ValueError:
            out[k] = 0  # the check reports the malformed code
    return out


def _parents_from_codes(codes: np.ndarray, levels: np.ndarray) -> np.ndarray:
    scheme = _scheme_for(codes)
    out = np.full(codes.size, None, dtype=object)
    for k, (c, lv) in enumerate(zip(codes, levels, strict=True)):
        if lv > 1 and len(c) == scheme.length and c.isdigit():
            keep = scheme.prefix_length(int(lv) - 1)
            out[k] = c[:keep] + "0" * (scheme.length - keep)
    return out


def read_land_file(path: str | os.PathLike[str], *, layer: str | None = None) -> shapely.Geometry:
    """The union of the polygons of a land file, in EPSG:4549 (made valid).

    Raises
    ------
    GridFileError, GridFileCRSError
        As :func:`read_grid_file`.
    """
    p = Path(path)
    df = _frame(p, layer=layer)
    if len(df) == 0:
        raise GridFileError(f"{p.name}: no features")
    present = df.geometry.geom_type.dropna()
    if present.empty or not present.isin(sorted(_POLYGONAL)).all():
        listing = ", ".join(f"{n} {t}" for t, n in present.value_counts().items()) or "no geometry"
        raise GridFileError(f"{p.name}: land must be polygons, the file holds {listing}")
    df = _to_work(df, p)
    geoms = np.asarray(df.geometry.values, dtype=object)
    land = shapely.union_all(shapely.make_valid(geoms[~shapely.is_missing(geoms)]))
    parts = shapely.get_parts(land)
    polys = parts[
        np.isin(shapely.get_type_id(parts), [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    ]
    if polys.size == 0:
        raise GridFileError(f"{p.name}: the land polygons have no area")
    return shapely.union_all(polys)
