"""The base map: a folium map with a switchable basemap and nothing remote but its tiles.

Basemaps: OpenStreetMap, an intranet XYZ tile service (``settings.TILES`` / ``ONEGRID_TILES``
holding a URL template), or none — the data layers draw the same on any of them.

An intranet service may draw its tiles in GCJ-02 (``ONEGRID_TILES_DATUM=gcj02``), the datum of
most commercial Chinese maps, offset from WGS84 by a few hundred metres. Data is then shifted to
GCJ-02 for drawing (:meth:`Basemap.to_map`) and what the user clicks is shifted back
(:meth:`Basemap.from_map`): the store stays in CGCS2000 / WGS84 and only the picture moves.
Tianditu and other CGCS2000 services need no shift (CGCS2000 and WGS84 differ by centimetres).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
import shapely.geometry
from branca.element import MacroElement, Template

from maps.offline import DEFAULT_BASE, localize
from spatial.crs import GCJ02, gcj02_to_wgs84, normalize_crs, wgs84_to_gcj02
from spatial.errors import CRSError, OneGridError

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
# Plain text: a link would be one more remote address in the page, and the text is what the
# OpenStreetMap licence asks for.
OSM_ATTRIBUTION = "© OpenStreetMap contributors"


class TilesError(OneGridError):
    """The configured tile service is not an http(s) XYZ template, or its datum is unknown."""


#: Datums a tile service may draw in (by the engine's CRS names); CGCS2000 tiles (Tianditu) are
#: WGS84 to within centimetres.
_TILE_DATUMS = {"EPSG:4326": "wgs84", "EPSG:4490": "wgs84", GCJ02: "gcj02"}


@dataclass(frozen=True)
class Basemap:
    kind: str  # "osm", "custom" or "none"
    url: str | None = None
    attribution: str = ""
    datum: str = "wgs84"  # what the tiles are drawn in: "wgs84" or "gcj02"

    @property
    def allowed_urls(self) -> tuple[str, ...]:
        """The only remote addresses a map on this basemap may contain."""
        return (self.url,) if self.url else ()

    def to_map(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 lon/lat → where they are drawn on these tiles."""
        return to_datum(lon, lat, datum=self.datum)

    def from_map(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        """A position on these tiles (a click) → WGS84 lon/lat."""
        if self.datum == "gcj02":
            return gcj02_to_wgs84(lon, lat)
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


NO_BASEMAP = Basemap(kind="none")
OSM = Basemap(kind="osm", url=OSM_URL, attribution=OSM_ATTRIBUTION)


def to_datum(lon: Any, lat: Any, *, datum: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat as drawn on tiles in ``datum``."""
    if datum == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if datum != "wgs84":
        raise ValueError(f"unknown basemap datum {datum!r}")
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def geometries_to_datum(geoms: np.ndarray, *, datum: str, decimals: int | None = None) -> np.ndarray:
    """WGS84 geometries as drawn on tiles in ``datum`` (every vertex moved; rounded if asked).

    Rounding after the shift keeps shared vertices shared: equal vertices move equally.
    """
    if datum == "wgs84" and decimals is None:
        return geoms

    def move(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_datum(coords[:, 0], coords[:, 1], datum=datum)
        out = np.column_stack([lon, lat])
        return out if decimals is None else np.round(out, decimals)

    return shapely.transform(geoms, move)


def frame_to_datum(frame: gpd.GeoDataFrame, *, datum: str) -> gpd.GeoDataFrame:
    """A WGS84 GeoDataFrame with its geometry as drawn on tiles in ``datum`` (for display only)."""
    if datum == "wgs84":
        return frame
    return frame.set_geometry(
        gpd.GeoSeries(
            geometries_to_datum(frame.geometry.to_numpy(), datum=datum), index=frame.index, crs=frame.crs
        )
    )


def geojson_to_datum(collection: dict[str, Any], *, datum: str) -> dict[str, Any]:
    """A WGS84 GeoJSON FeatureCollection with every geometry as drawn on tiles in ``datum``."""
    if datum == "wgs84":
        return collection
    features = []
    for f in collection["features"]:
        g = geometries_to_datum(np.array([shapely.geometry.shape(f["geometry"])]), datum=datum)[0]
        features.append({**f, "geometry": shapely.geometry.mapping(g)})
    return {**collection, "features": features}


def datum_from_setting(value: str) -> str:
    """``wgs84`` or ``gcj02`` from any name the engine accepts for them (``cgcs2000`` is ``wgs84``)."""
    try:
        datum = _TILE_DATUMS.get(normalize_crs(value or "wgs84"))
    except CRSError:
        datum = None
    if datum is None:
        raise TilesError(
            f"ONEGRID_TILES_DATUM={value!r} is not 'wgs84', 'cgcs2000' or 'gcj02' "
            "(the datum the tile service draws in)"
        )
    return datum


def basemap_from_setting(value: str, *, datum: str = "wgs84") -> Basemap:
    """``osm``, ``none`` or an http(s) XYZ template with ``{z}``, ``{x}`` and ``{y}`` drawn in ``datum``.

    The datum is that of an intranet service: OpenStreetMap is WGS84, and with no basemap the
    data is drawn where it is.
    """
    d = datum_from_setting(datum)
    v = (value or "").strip()
    if v.lower() in {"", "none", "off"}:
        return NO_BASEMAP
    if v.lower() in {"osm", "openstreetmap"}:
        return OSM
    if not re.match(r"(?i)https?://", v) or not all(p in v for p in ("{z}", "{x}", "{y}")):
        raise TilesError(
            f"ONEGRID_TILES={v!r} is not 'osm', 'none' or an http(s) tile template "
            "with {z}, {x} and {y}"
        )
    return Basemap(kind="custom", url=v, attribution="", datum=d)


def basemap_choices(setting: str, *, datum: str = "wgs84") -> list[Basemap]:
    """What the basemap switch offers: the configured one first, then OSM and none."""
    first = basemap_from_setting(setting, datum=datum)
    out = [first]
    for b in (OSM, NO_BASEMAP):
        if b.kind not in {c.kind for c in out}:
            out.append(b)
    return out


def base_map(
    *, bounds: tuple[float, float, float, float], basemap: Basemap, max_zoom: int = 19
) -> folium.Map:
    """A map fitted to ``bounds`` (west, south, east, north in WGS84 lon/lat) on ``basemap``.

    Vectors are drawn on canvas: hundreds of polygons and thousands of points stay fluid. Layers
    added to it must be drawn in the basemap's datum (:meth:`Basemap.to_map`).
    """
    (west, east), (south, north) = basemap.to_map([bounds[0], bounds[2]], [bounds[1], bounds[3]])
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=11,
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
        max_zoom=max_zoom,
    )
    if basemap.url:
        folium.TileLayer(
            tiles=basemap.url,
            attr=basemap.attribution or " ",
            name="basemap",
            max_zoom=max_zoom,
            control=False,
        ).add_to(m)
    m.fit_bounds([[south, west], [north, east]])
    return m


class _TileNotice(MacroElement):
    """On the first tile that fails to load, a notice in the map's corner (the text is escaped:
    it goes in as a JSON string and is set as ``textContent``)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
          var shown = false;
          {{ this.tiles }}.on("tileerror", function () {
            if (shown) { return; }
            shown = true;
            var note = L.control({position: "topright"});
            note.onAdd = function () {
              var box = L.DomUtil.create("div", "og-tile-notice");
              box.textContent = {{ this.text | tojson }};
              box.style.cssText = "background:#fff8e1;border:1px solid #d9b44a;padding:4px 8px;"
                + "border-radius:4px;font:12px sans-serif;max-width:260px";
              return box;
            };
            note.addTo({{ this.map }});
          });
        })();
        {% endmacro %}"""
    )

    def __init__(self, *, tiles: str, map_name: str, text: str) -> None:
        super().__init__()
        self._name = "TileNotice"
        self.tiles, self.map, self.text = tiles, map_name, text


def add_tile_notice(m: folium.Map, text: str) -> folium.Map:
    """Say ``text`` on the map when its basemap's tiles cannot be loaded (offline, blocked, a wrong
    intranet address) instead of leaving a grey map without a word."""
    children = list(m._children.values())
    if any(isinstance(c, _TileNotice) for c in children):
        return m  # one notice per map, however often it is drawn
    for child in children:
        if isinstance(child, folium.TileLayer):
            m.add_child(_TileNotice(tiles=child.get_name(), map_name=m.get_name(), text=text))
    return m


def finish(m: folium.Map, *, base: str = DEFAULT_BASE) -> folium.Map:
    """Make the map offline-safe; call once every layer is on it."""
    return localize(m, base=base)


def render_html(m: folium.Map) -> str:
    """The whole HTML document of a map (what the browser would get from folium)."""
    return m.get_root().render()


def payload_bytes(m: folium.Map) -> int:
    """Size of the map as sent to the browser (its rendered document, UTF-8)."""
    return len(render_html(m).encode("utf-8"))
