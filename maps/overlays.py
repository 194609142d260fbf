"""Data layers for the maps: grid outlines and choropleths, case heat, component counts and points.

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
import numpy as np
import pandas as pd
import shapely
from folium.plugins import HeatMap

from layers.analysis import Heat
from maps.choropleth import NO_DATA, Classes


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
    grids: gpd.GeoDataFrame, *, tips: GridTips, name: str, color: str = "#3367d6", weight: float = 1.2
) -> folium.GeoJson:
    """Grid boundaries with a tooltip each (``grids`` in WGS84, with ``code``)."""
    return folium.GeoJson(
        _features(grids, fills=None, tips=tips),
        name=name,
        style_function=lambda f: {"color": color, "weight": weight, "fillOpacity": 0.02, "fillColor": color},
        highlight_function=lambda f: {"weight": weight + 2, "fillOpacity": 0.15},
        tooltip=tips.tooltip(),
        zoom_on_click=False,
    )


def choropleth(
    grids: gpd.GeoDataFrame, *, classes: Classes, tips: GridTips, name: str, opacity: float = 0.65
) -> folium.GeoJson:
    """Grids filled by class colour (``grids`` in WGS84, in the order of ``classes.yb``)."""
    fills = classes.color_of()
    return folium.GeoJson(
        _features(grids, fills=fills, tips=tips),
        name=name,
        style_function=lambda f: {
            "fillColor": f["properties"].get("fill", NO_DATA),
            "color": "#555",
            "weight": 0.8,
            "fillOpacity": opacity,
        },
        highlight_function=lambda f: {"weight": 3, "color": "#222"},
        tooltip=tips.tooltip(),
        zoom_on_click=False,
    )


def heat_layer(data: Heat, *, name: str, decimals: int = 5) -> HeatMap:
    """Case heat; binned cells are weighted by their counts (scaled to 0..1 for leaflet.heat)."""
    w = np.asarray(data.weight, dtype=float)
    top = float(w.max()) if len(w) else 1.0
    pts = np.column_stack(
        [np.round(data.lat, decimals), np.round(data.lon, decimals), np.round(w / top if top > 0 else w, 3)]
    )
    radius = 14 if data.binned else 10
    return HeatMap(pts.tolist(), name=name, radius=radius, blur=radius + 4, min_opacity=0.3, max_zoom=15)


def component_counts(points: pd.DataFrame, *, name: str, label: str) -> folium.FeatureGroup:
    """One circle per grid sized by its component count (``points``: lon, lat, count, name)."""
    fg = folium.FeatureGroup(name=name)
    if points.empty:
        return fg
    top = max(float(points["count"].max()), 1.0)
    for lon, lat, count, gname in points[["lon", "lat", "count", "name"]].itertuples(index=False):
        folium.CircleMarker(
            location=[round(float(lat), 5), round(float(lon), 5)],
            radius=float(4 + 16 * np.sqrt(count / top)),
            color="#1b7837",
            weight=1,
            fill=True,
            fill_opacity=0.5,
            tooltip=tooltip_html([(gname, f"{int(count):,} {label}")]),
        ).add_to(fg)
    return fg


STATE_COLORS = {"完好": "#1a9850", "破损": "#fc8d59", "丢失": "#d73027", "占用": "#7b3294"}


def component_points(frame: pd.DataFrame, *, name: str, labels: dict[str, str]) -> folium.FeatureGroup:
    """Components as small dots coloured by state (``frame``: lon, lat, code, class_name, state)."""
    fg = folium.FeatureGroup(name=name)
    if frame.empty:
        return fg
    feats = []
    for lon, lat, code, cname, state in frame[["lon", "lat", "code", "class_name", "state"]].itertuples(
        index=False
    ):
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "c": STATE_COLORS.get(str(state), "#666"),
                    "tip": tooltip_html(
                        [
                            (labels.get("code", "code"), code),
                            (labels.get("class", "class"), cname),
                            (labels.get("state", "state"), state),
                        ]
                    ),
                },
                "geometry": {"type": "Point", "coordinates": [round(float(lon), 6), round(float(lat), 6)]},
            }
        )
    folium.GeoJson(
        {"type": "FeatureCollection", "features": feats},
        marker=folium.CircleMarker(radius=4, weight=1, fill=True, fill_opacity=0.9),
        style_function=lambda f: {"color": f["properties"]["c"], "fillColor": f["properties"]["c"]},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(fg)
    return fg
