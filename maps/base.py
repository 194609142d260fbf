"""The base map: a folium map with a switchable basemap and nothing remote but its tiles.

Basemaps: OpenStreetMap, an intranet XYZ tile service (``settings.TILES`` / ``ONEGRID_TILES``
holding a URL template), or none — the data layers draw the same on any of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import folium

from maps.offline import DEFAULT_BASE, localize
from spatial.errors import OneGridError

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
# Plain text: a link would be one more remote address in the page, and the text is what the
# OpenStreetMap licence asks for.
OSM_ATTRIBUTION = "© OpenStreetMap contributors"


class TilesError(OneGridError):
    """The configured tile service is not an http(s) XYZ template."""


@dataclass(frozen=True)
class Basemap:
    kind: str  # "osm", "custom" or "none"
    url: str | None = None
    attribution: str = ""

    @property
    def allowed_urls(self) -> tuple[str, ...]:
        """The only remote addresses a map on this basemap may contain."""
        return (self.url,) if self.url else ()


NO_BASEMAP = Basemap(kind="none")
OSM = Basemap(kind="osm", url=OSM_URL, attribution=OSM_ATTRIBUTION)


def basemap_from_setting(value: str) -> Basemap:
    """``osm``, ``none`` or an http(s) XYZ template with ``{z}``, ``{x}`` and ``{y}``."""
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
    return Basemap(kind="custom", url=v, attribution="")


def basemap_choices(setting: str) -> list[Basemap]:
    """What the basemap switch offers: the configured one first, then OSM and none."""
    first = basemap_from_setting(setting)
    out = [first]
    for b in (OSM, NO_BASEMAP):
        if b.kind not in {c.kind for c in out}:
            out.append(b)
    return out


def base_map(
    *, bounds: tuple[float, float, float, float], basemap: Basemap, max_zoom: int = 19
) -> folium.Map:
    """A map fitted to ``bounds`` (west, south, east, north in lon/lat) on ``basemap``.

    Vectors are drawn on canvas: hundreds of polygons and thousands of points stay fluid.
    """
    west, south, east, north = bounds
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


def finish(m: folium.Map, *, base: str = DEFAULT_BASE) -> folium.Map:
    """Make the map offline-safe; call once every layer is on it."""
    return localize(m, base=base)


def render_html(m: folium.Map) -> str:
    """The whole HTML document of a map (what the browser would get from folium)."""
    return m.get_root().render()


def payload_bytes(m: folium.Map) -> int:
    """Size of the map as sent to the browser (its rendered document, UTF-8)."""
    return len(render_html(m).encode("utf-8"))
