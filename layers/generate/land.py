"""The district's land: its administrative boundary minus the lake, in the working CRS.

Boundary files are checked before use: a file that cannot be read, holds no polygon, or whose
CRS cannot be trusted is refused with one :class:`BoundaryFileError` naming every problem; an
invalid geometry is repaired with ``make_valid`` and the repair is noted, never hidden.
"""

from __future__ import annotations

import json
import os
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


def load_land(boundary_path: str | os.PathLike[str], lake_path: str | os.PathLike[str]) -> BaseGeometry:
    """The district's land in EPSG:4549: the boundary minus the lake (a MultiPolygon if islands).

    Slivers of under a square metre left by the difference are dropped: they are artefacts of
    two independently digitised outlines, not land.
    """
    boundary = load_boundary_file(boundary_path).geometry
    lake = load_boundary_file(lake_path).geometry
    land = shapely.difference(boundary, lake)
    parts = shapely.get_parts(land)
    parts = parts[shapely.area(parts) >= 1.0]
    return shapely.normalize(shapely.union_all(parts)) if len(parts) > 1 else parts[0]
