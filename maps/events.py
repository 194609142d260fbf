"""What a map interaction means, from what a map sent back; plain, tested functions.

:mod:`maps.livemap` sends the shape ``st_folium`` returns (``last_object_clicked``, ``bounds``,
``zoom``). Positions are where the user saw them on the basemap's tiles; :func:`click_in_wgs84`
and :func:`view_in_wgs84` bring them back to WGS84 when the tiles are GCJ-02.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from maps.base import Basemap

#: From this zoom on, components are drawn one by one for the viewport.
POINTS_ZOOM = 15


@dataclass(frozen=True)
class View:
    west: float
    south: float
    east: float
    north: float
    zoom: int

    @property
    def center(self) -> tuple[float, float]:
        return (self.south + self.north) / 2, (self.west + self.east) / 2


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def click_of(result: dict[str, Any] | None) -> tuple[float, float] | None:
    """``(lat, lon)`` of the last clicked object, if any and well-formed."""
    obj = (result or {}).get("last_object_clicked")
    if not isinstance(obj, dict):
        return None
    lat, lon = _num(obj.get("lat")), _num(obj.get("lng"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def view_of(result: dict[str, Any] | None) -> View | None:
    """The viewport the browser reported, if complete and sane."""
    r = result or {}
    b = r.get("bounds")
    if not isinstance(b, dict):
        return None
    sw, ne = b.get("_southWest") or {}, b.get("_northEast") or {}
    west, south = _num(sw.get("lng")), _num(sw.get("lat"))
    east, north = _num(ne.get("lng")), _num(ne.get("lat"))
    zoom = _num(r.get("zoom"))
    if west is None or south is None or east is None or north is None or zoom is None:
        return None
    if not (south < north and west < east):
        return None
    return View(west=west, south=south, east=east, north=north, zoom=int(zoom))


def new_click(
    result: dict[str, Any] | None, *, last: tuple[float, float] | None
) -> tuple[float, float] | None:
    """The click if it differs from the one already handled (the result repeats it on every rerun)."""
    click = click_of(result)
    return click if click is not None and click != last else None


def wants_points(view: View | None, *, min_zoom: int = POINTS_ZOOM) -> bool:
    """Whether the view is close enough to draw single components."""
    return view is not None and view.zoom >= min_zoom


def click_in_wgs84(click: tuple[float, float], basemap: Basemap) -> tuple[float, float]:
    """A ``(lat, lon)`` click on ``basemap``'s tiles as WGS84 ``(lat, lon)``."""
    lon, lat = basemap.from_map([click[1]], [click[0]])
    return float(lat[0]), float(lon[0])


def view_in_wgs84(view: View, basemap: Basemap) -> View:
    """A view of ``basemap``'s tiles as a WGS84 box (corners moved; zoom kept)."""
    lon, lat = basemap.from_map([view.west, view.east], [view.south, view.north])
    return replace(view, west=float(lon[0]), east=float(lon[1]), south=float(lat[0]), north=float(lat[1]))
