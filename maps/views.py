"""The maps of the pages, put together from the layers of :mod:`maps.overlays`.

Each builder takes data already aggregated (by :mod:`layers.analysis`) and the labels in the
page's language, and returns an offline-safe folium map.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.plugins import HeatMap

from layers.analysis import METRICS, Heat
from maps.base import Basemap, base_map, finish
from maps.choropleth import Classes, Legend, classify
from maps.geometry import lonlat_bounds
from maps.offline import DEFAULT_BASE, localize
from maps.overlays import (
    GridTips,
    choropleth,
    component_counts,
    component_points,
    grid_outlines,
    heat_layer,
)


def _fmt_value(metric: str) -> Callable[[float], str]:
    if metric == "closure_rate":
        return lambda v: f"{v:.0%}"
    if metric.endswith("_per_km2"):
        return lambda v: f"{v:,.1f}"
    return lambda v: f"{v:,.0f}"


def grid_tips(table: pd.DataFrame, *, labels: Mapping[str, str]) -> GridTips:
    """Tooltip rows per grid: name, code and the coverage figures (values escaped here)."""

    def num(values: pd.Series, fmt: str) -> list[str]:
        v = values.to_numpy(dtype=float)
        return [format(x, fmt) if np.isfinite(x) else "–" for x in v]

    values = {
        "name": [html.escape(str(v)) for v in table["name"]],
        "code": [html.escape(str(v)) for v in table["code"]],
        "cases": num(table["cases"], ",.0f"),
        "cases_per_km2": num(table["cases_per_km2"], ",.1f"),
        "open": num(table["open"], ",.0f"),
        "overdue": num(table["overdue"], ",.0f"),
        "closure_rate": num(table["closure_rate"], ".0%"),
        "components": num(table["components"], ",.0f"),
    }
    return GridTips(labels={k: labels[k] for k in values}, values=values)


def frame_map(*, grids: gpd.GeoDataFrame, basemap: Basemap, base: str = DEFAULT_BASE) -> folium.Map:
    """The map that stays while the data layers change: basemap and view of ``grids``.

    It also loads the heat plugin, so a heat layer can arrive later without redrawing the map.
    """
    m = base_map(bounds=lonlat_bounds(grids), basemap=basemap)
    m.default_js = [*m.default_js, *HeatMap.default_js]
    return finish(m, base=base)


def coverage_layers(
    *,
    grids: gpd.GeoDataFrame,
    table: pd.DataFrame,
    metric: str | None,
    labels: Mapping[str, str],
    heat: Heat | None = None,
    component_circles: pd.DataFrame | None = None,
    scheme: str = "quantiles",
    k: int = 5,
    base: str = DEFAULT_BASE,
) -> tuple[list[folium.FeatureGroup], Classes | None]:
    """The data layers: grids (outlined, or filled by ``metric``) with a legend, heat, component counts.

    ``grids`` are display grids (WGS84) and ``table`` their :func:`layers.analysis.coverage`
    rows in the same order. ``labels`` holds the page's words for every column and layer.
    """
    if metric is not None and metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {list(METRICS)}")
    if list(grids["code"]) != list(table["code"]):
        raise ValueError("the coverage table is not in the order of the grids")
    tips = grid_tips(table, labels=labels)
    classes = None
    grid_group = folium.FeatureGroup(name=labels["grids"])
    if metric is None:
        grid_outlines(grids, tips=tips, name=labels["grids"]).add_to(grid_group)
    else:
        classes = classify(
            table[metric].to_numpy(dtype=float),
            k=k,
            scheme=scheme,
            higher_is_worse=METRICS[metric],
            fmt=_fmt_value(metric),
        )
        choropleth(grids, classes=classes, tips=tips, name=labels[metric]).add_to(grid_group)
        grid_group.add_child(Legend(title=labels[metric], classes=classes, no_data=labels["no_data"]))
    groups = [grid_group]
    if heat is not None and len(heat.lon):
        heat_group = folium.FeatureGroup(name=labels["heat"])
        heat_layer(heat, name=labels["heat"]).add_to(heat_group)
        groups.append(heat_group)
    if component_circles is not None:
        groups.append(
            component_counts(component_circles, name=labels["components"], label=labels["components"])
        )
    return [localize(g, base=base) for g in groups], classes


def coverage_map(
    *,
    grids: gpd.GeoDataFrame,
    table: pd.DataFrame,
    metric: str | None,
    labels: Mapping[str, str],
    basemap: Basemap,
    heat: Heat | None = None,
    component_circles: pd.DataFrame | None = None,
    scheme: str = "quantiles",
    k: int = 5,
    base: str = DEFAULT_BASE,
) -> tuple[folium.Map, Classes | None]:
    """:func:`frame_map` with the :func:`coverage_layers` on it, as one map."""
    groups, classes = coverage_layers(
        grids=grids,
        table=table,
        metric=metric,
        labels=labels,
        heat=heat,
        component_circles=component_circles,
        scheme=scheme,
        k=k,
        base=base,
    )
    m = base_map(bounds=lonlat_bounds(grids), basemap=basemap)
    for g in groups:
        g.add_to(m)
    return finish(m, base=base), classes


def viewport_components(
    frame: pd.DataFrame, *, labels: Mapping[str, str], base: str = DEFAULT_BASE
) -> folium.FeatureGroup:
    """Components of the current view as a layer added to a drawn map without redrawing it."""
    fg = component_points(
        frame,
        name=labels["components"],
        labels={"code": labels["code"], "class": labels["class"], "state": labels["state"]},
    )
    return localize(fg, base=base)
