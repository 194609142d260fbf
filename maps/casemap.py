"""The case desk's small folium maps: where a report is placed, and where a case is.

Both draw a few outlines (towns, the case's grid) and one or two points; every text that reaches a
tooltip is escaped (folium tooltips are HTML), so names and descriptions stay text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import folium
import geopandas as gpd

from maps.base import Basemap, base_map, frame_to_datum
from maps.overlays import GridTips, grid_outlines, tooltip_html

#: Half the side of the box a map shows around a single point (degrees, about 300 m).
POINT_PAD = 0.003


@dataclass(frozen=True)
class Outline:
    """Polygons to outline (WGS84, with ``code`` and ``name``) and the words of their tooltips."""

    grids: gpd.GeoDataFrame
    name: str  # the layer's name
    code_label: str
    name_label: str
    color: str = "#3367d6"
    weight: float = 1.2


@dataclass(frozen=True)
class Spot:
    """A point (WGS84) with the rows of its tooltip (label, value); values may be user text."""

    lon: float
    lat: float
    rows: tuple[tuple[str, object], ...]
    color: str = "#d62728"
    dashed: bool = False


def point_bounds(lon: float, lat: float, *, pad: float = POINT_PAD) -> tuple[float, float, float, float]:
    return lon - pad, lat - pad, lon + pad, lat + pad


def desk_map(
    *,
    bounds: tuple[float, float, float, float],
    basemap: Basemap,
    outlines: Sequence[Outline] = (),
    spots: Sequence[Spot] = (),
) -> folium.Map:
    """A map fitted to ``bounds`` (WGS84) with outlines and spots drawn in the basemap's datum.

    The caller finishes it (:func:`maps.base.finish`) once nothing more is added.
    """
    m = base_map(bounds=bounds, basemap=basemap)
    for o in outlines:
        if o.grids.empty:
            continue
        shown = frame_to_datum(o.grids, datum=basemap.datum)
        tips = GridTips(
            labels={"code": o.code_label, "name": o.name_label},
            values={
                "code": [html.escape(str(c)) for c in shown["code"]],
                "name": [html.escape(str(n)) for n in shown["name"]],
            },
        )
        grid_outlines(shown, tips=tips, name=o.name, color=o.color, weight=o.weight).add_to(m)
    for s in spots:
        lon, lat = basemap.to_map([s.lon], [s.lat])
        folium.CircleMarker(
            location=[float(lat[0]), float(lon[0])],
            radius=8,
            color=s.color,
            fill=not s.dashed,
            fill_opacity=0.85,
            dash_array="4" if s.dashed else None,
            tooltip=tooltip_html(s.rows),
        ).add_to(m)
    return m
