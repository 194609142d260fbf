"""The district's land: its administrative boundary minus its lakes, in the working CRS.

Boundary files are checked before use: a file that cannot be read, holds no polygon, or whose
CRS cannot be trusted is refused with one :class:`BoundaryFileError` naming every problem; an
invalid geometry is repaired with ``make_valid`` and the repair is noted, never hidden.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from layers.errors import InputFileError
from spatial.crs import WORK_CRS

_GEOJSON_SUFFIXES = {".geojson", ".json"}
_POLYGONAL = {"Polygon", "MultiPolygon"}


class BoundaryFileError(InputFileError):
    """A boundary file is missing, unreadable, holds no polygon or has no trustworthy CRS."""


@dataclass(frozen=True)
class Boundary:
    """A boundary read from a file: its dissolved polygonal geometry and what was done to it."""

    geometry: BaseGeometry
    crs: str
    notes: list[str] = field(default_factory=list)


def _declares_crs(path: Path) -> bool:
    """Whether a GeoJSON file has a top-level ``crs`` member (pre-RFC 7946 style)."""
    try:
        with path.open("rb") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise BoundaryFileError(f"{path}: not a readable GeoJSON file ({exc})") from exc
    if not isinstance(doc, dict):
        raise BoundaryFileError(f"{path}: not a GeoJSON object")
    return "crs" in doc


def load_boundary_file(path: str | os.PathLike[str], *, to_crs: str = WORK_CRS) -> Boundary:
    """Read a boundary GeoJSON or GeoPackage and return its polygons dissolved, in ``to_crs``.

    A GeoJSON file without a ``crs`` member is RFC 7946 WGS84 lon/lat and is accepted only if
    its coordinates lie in the lon/lat range; any other file must declare its CRS.

    Raises
    ------
    BoundaryFileError
        The file is missing or unreadable, holds no polygon feature, or its CRS is missing or
        does not fit its coordinates.
    """
    p = Path(path)
    if not p.exists():
        raise BoundaryFileError(f"{p}: no such file")
    if p.is_dir():
        raise BoundaryFileError(f"{p} is a folder, not a boundary file")
    is_geojson = p.suffix.lower() in _GEOJSON_SUFFIXES
    declared = _declares_crs(p) if is_geojson else None
    try:
        frame = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises its own types and plain OSError/ValueError
        raise BoundaryFileError(f"{p}: cannot be read as a boundary file ({exc})") from exc

    problems: list[str] = []
    notes: list[str] = []
    geoms = np.asarray(frame.geometry.values, dtype=object) if len(frame) else np.array([], dtype=object)
    kinds = shapely.get_type_id(geoms) if len(geoms) else np.array([], dtype=int)
    # Type ids 3 and 6 are Polygon and MultiPolygon; anything else (points, lines) is not land.
    polygonal = (kinds == 3) | (kinds == 6)
    if not polygonal.any():
        problems.append("no Polygon or MultiPolygon feature")
    elif not polygonal.all():
        notes.append(f"{int((~polygonal).sum())} non-polygon feature(s) ignored")

    crs = frame.crs
    if is_geojson and not declared:
        # GDAL labels every GeoJSON as WGS84; RFC 7946 makes that true only for lon/lat values.
        if polygonal.any():
            minx, miny, maxx, maxy = shapely.total_bounds(geoms[polygonal])
            if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
                problems.append(
                    'coordinates are not lon/lat but the file has no "crs" member; '
                    "declare the CRS (or export as RFC 7946 WGS84)"
                )
        crs = "EPSG:4326"
    elif crs is None:
        problems.append("the file declares no CRS; declare the CRS")
    if problems:
        raise BoundaryFileError(f"{p}: " + "; ".join(problems))

    shapes = geoms[polygonal]
    invalid = ~shapely.is_valid(shapes)
    if invalid.any():
        reasons = shapely.is_valid_reason(shapes[invalid])
        shapes = shapes.copy()
        shapes[invalid] = shapely.make_valid(shapes[invalid])
        notes.append(
            f"{int(invalid.sum())} invalid geometr{'y' if invalid.sum() == 1 else 'ies'} "
            f"repaired with make_valid ({'; '.join(sorted(set(reasons)))})"
        )
        # make_valid may return collections holding lines; only the areal part is boundary.
        shapes = np.array([_polygonal_part(g) for g in shapes], dtype=object)
    series = gpd.GeoSeries(shapes, crs=crs).to_crs(to_crs)
    merged = shapely.union_all(np.asarray(series.values, dtype=object))
    merged = _polygonal_part(merged)
    if merged.is_empty:
        raise BoundaryFileError(f"{p}: the polygons are empty after repair")
    return Boundary(geometry=merged, crs=str(to_crs), notes=notes)


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry:
    parts = shapely.get_parts(geom)
    keep = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(keep) if len(keep) else shapely.Polygon()


def load_land(
    boundary_path: str | os.PathLike[str],
    lake_path: str | os.PathLike[str],
    *,
    waters: Sequence[str | os.PathLike[str]] = (),
    north_limit: float | None = None,
) -> BaseGeometry:
    """The district's land in EPSG:4549: the boundary minus the lake (a MultiPolygon if islands).

    Parameters
    ----------
    boundary_path, lake_path
        The administrative boundary and the main lake taken out of it.
    waters
        Further water polygons taken out of the land (Yangcheng Lake for Wuzhong).
    north_limit
        Latitude (degrees, WGS84) north of which the boundary is cut off: public polygons of
        some districts take in land a neighbour administers (for Wuzhong, the Industrial Park
        north of 31°21′N). ``None`` keeps the whole boundary.

    Slivers of under a square metre left by the differences are dropped: they are artefacts of
    independently digitised outlines, not land.
    """
    boundary = load_boundary_file(boundary_path).geometry
    if north_limit is not None:
        boundary = shapely.intersection(boundary, _south_of(north_limit))
    water = [load_boundary_file(lake_path).geometry, *(load_boundary_file(w).geometry for w in waters)]
    land = shapely.difference(boundary, shapely.union_all(water))
    parts = shapely.get_parts(land)
    parts = parts[(shapely.get_type_id(parts) == 3) & (shapely.area(parts) >= 1.0)]
    if len(parts) == 0:
        raise BoundaryFileError(f"{boundary_path}: no land is left once the water is taken out")
    return shapely.normalize(shapely.union_all(parts)) if len(parts) > 1 else parts[0]


def _south_of(latitude: float) -> BaseGeometry:
    """The band of the earth south of ``latitude`` around China, in the working CRS.

    Drawn in lon/lat and densified before projection, so its northern edge stays on the parallel.
    """
    if not -90.0 < latitude < 90.0:
        raise ValueError(f"north limit {latitude} is not a latitude")
    band = shapely.segmentize(shapely.box(70.0, max(latitude - 20.0, -89.0), 140.0, latitude), 0.01)
    return gpd.GeoSeries([band], crs="EPSG:4326").to_crs(WORK_CRS).iloc[0]


def district_land() -> BaseGeometry:
    """The default district's land as the settings describe it (boundary, lakes, north limit)."""
    import settings

    return load_land(
        settings.BOUNDARY_FILE,
        settings.LAKE_FILE,
        waters=settings.WATER_FILES,
        north_limit=settings.NORTH_LIMIT,
    )
