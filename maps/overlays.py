"""Layers of the folium maps (the surveyor's and planner's): grid outlines with tooltips.

Every text that reaches a tooltip is escaped here (folium tooltips are HTML); the GeoJSON carries
only a grid code, a colour and the escaped tooltip, to keep the payload small.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass

import folium
import geopandas as gpd
import shapely


def tooltip_html(rows: Sequence[tuple[str, object]]) -> str:
    """A small two-column tooltip; labels and values are escaped."""
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(str(k))}</th>"
        f"<td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table>{cells}</table>"


@dataclass(frozen=True)
class GridTips:
    """Tooltip rows shared by all grids: labels once, escaped values per grid (keeps payloads small)."""

    labels: dict[str, str]  # property key → label
    values: dict[str, list[str]]  # property key → one escaped text per grid

    def tooltip(self) -> folium.GeoJsonTooltip:
        keys = list(self.labels)
        return folium.GeoJsonTooltip(
            fields=keys, aliases=[html.escape(self.labels[k]) for k in keys], labels=True
        )


def _features(grids: gpd.GeoDataFrame, *, fills: Sequence[str] | None, tips: GridTips) -> dict:
    geoms = shapely.to_geojson(grids.geometry.to_numpy())
    feats = []
    for i, (code, g) in enumerate(zip(grids["code"].astype(str), geoms, strict=True)):
        props = {k: v[i] for k, v in tips.values.items()}
        if fills is not None:
            props["fill"] = fills[i]
        feats.append({"type": "Feature", "id": code, "properties": props, "geometry": json.loads(g)})
    return {"type": "FeatureCollection", "features": feats}


def grid_outlines(
    grids: gpd.GeoDataFrame,
    *,
    tips: GridTips,
    name: str,
    color: str = "#3367d6",
    weight: float = 1.2,
    dash: str | None = None,
) -> folium.GeoJson:
    """Grid boundaries with a tooltip each (``grids`` in WGS84, with ``code``).

    ``dash`` is a Leaflet dash pattern (``"6 4"``), for outlines drawn over others (before/after).
    """
    style = {"color": color, "weight": weight, "fillOpacity": 0.02, "fillColor": color}
    if dash:
        style["dashArray"] = dash
    return folium.GeoJson(
        _features(grids, fills=None, tips=tips),
        name=name,
        style_function=lambda f: style,
        highlight_function=lambda f: {"weight": weight + 2, "fillOpacity": 0.15},
        tooltip=tips.tooltip(),
        zoom_on_click=False,
    )


STATE_COLORS = {"完好": "#1a9850", "破损": "#fc8d59", "丢失": "#d73027", "占用": "#7b3294"}
