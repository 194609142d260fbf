"""What the overview and the explorer draw, as the data of a :mod:`maps.livemap` map.

The grid geometry of a level (:class:`Shapes`) is built once per level and cached; it travels with
an id, and the browser builds its layer only when the id changes. On a filter change it restyles
the grids and swaps the heat and the legend. Everything else here is small per-grid arrays:
colours, tooltip texts, heat points, component circles.

Texts (grid names, labels, component classes) go to the browser as plain strings and are put into
the page with ``textContent`` there, never as HTML: a name holding ``<script>`` stays text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.analysis import METRICS, Heat
from maps.base import NO_BASEMAP, Basemap, geometries_to_datum
from maps.choropleth import NO_DATA, Classes, classify, rate_floor, rate_text
from maps.geometry import DECIMALS
from maps.overlays import STATE_COLORS

#: Tooltip rows of a grid, in order (keys of the coverage table and of the page's labels).
TIP_COLUMNS = ("name", "code", "cases", "cases_per_km2", "open", "overdue", "closure_rate", "components")
_TIP_FORMATS = {
    "cases": ",.0f",
    "cases_per_km2": ",.1f",
    "open": ",.0f",
    "overdue": ",.0f",
    "closure_rate": "rate",  # cut down to 0.1 %, never rounded up to 100 % (maps.choropleth.rate_text)
    "components": ",.0f",
}
#: Metrics that count things: their classes are whole numbers ("2 – 3", not "1.6 – 3.2").
COUNT_METRICS = frozenset({"open", "overdue"})
OUTLINE = {"color": "#3367d6", "weight": 1.2, "fillColor": "#3367d6", "fillOpacity": 0.02}
FILLED = {"color": "#555555", "weight": 0.8, "fillOpacity": 0.65}
COMPONENT_COLOR = "#1b7837"
OTHER_STATE_COLOR = "#666666"


@dataclass(frozen=True)
class Shapes:
    """Display grids as one GeoJSON text, with an id that changes exactly when the geometry does."""

    id: str
    json: str
    codes: tuple[str, ...]
    bounds: tuple[float, float, float, float]  # west, south, east, north, as drawn
    datum: str = "wgs84"  # the basemap datum the geometry is drawn in

    def spec(self) -> dict[str, Any]:
        return {"id": self.id, "json": self.json, "bounds": list(self.bounds), "n": len(self.codes)}


def shapes_of(grids: gpd.GeoDataFrame, *, datum: str = "wgs84") -> Shapes:
    """The geometry of display grids (WGS84, see :func:`maps.geometry.display_grids`) for the browser.

    Drawn in ``datum``, the basemap's (:attr:`maps.base.Basemap.datum`). Features carry only
    their grid code as id: tooltips and colours arrive separately, by position.
    """
    if grids.crs is None or grids.crs.to_epsg() != 4326:
        raise ValueError("shapes are built from display grids in WGS84 (maps.geometry.display_grids)")
    codes = tuple(str(c) for c in grids["code"])
    drawn = geometries_to_datum(
        grids.geometry.to_numpy(), datum=datum, decimals=DECIMALS if datum != "wgs84" else None
    )
    # The display grids are rounded (a shift rounds again); GEOS prints them in their shortest form.
    geoms = shapely.to_geojson(drawn)
    feats = ",".join(
        f'{{"type":"Feature","id":{json.dumps(c)},"properties":{{}},"geometry":{g}}}'
        for c, g in zip(codes, geoms, strict=True)
    )
    text = f'{{"type":"FeatureCollection","features":[{feats}]}}'
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()
    w, s, e, n = shapely.total_bounds(drawn)
    return Shapes(
        id=digest,
        json=text,
        codes=codes,
        bounds=(float(w), float(s), float(e), float(n)),
        datum=datum,
    )


def _fmt_value(metric: str) -> Callable[[float], str]:
    if metric == "closure_rate":
        return rate_text
    if metric.endswith("_per_km2"):
        return lambda v: f"{v:,.1f}"
    return lambda v: f"{v:,.0f}"


def _texts(values: pd.Series, fmt: str | None) -> list[str]:
    if fmt is None:
        return [str(v) for v in values]
    v = values.to_numpy(dtype=float)
    if fmt == "rate":
        pct = rate_floor(v)
        return [f"{x:.1f}%" if np.isfinite(x) else "–" for x in pct]
    return [format(x, fmt) if np.isfinite(x) else "–" for x in v]


def grid_tips(table: pd.DataFrame, *, labels: Mapping[str, str]) -> dict[str, Any]:
    """Tooltip texts per grid: the labels once, then one column of plain texts per label."""
    return {
        "labels": [labels[k] for k in TIP_COLUMNS],
        "columns": [_texts(table[k], _TIP_FORMATS.get(k)) for k in TIP_COLUMNS],
    }


def grid_layer(
    *,
    shapes: Shapes,
    table: pd.DataFrame,
    metric: str | None,
    labels: Mapping[str, str],
    selected: str | None = None,
    scheme: str = "quantiles",
    k: int = 5,
    reference: np.ndarray | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None, Classes | None]:
    """Styles and tooltips of the grids (``selected`` outlined), and the legend (none for outlines);
    with ``reference``, classes drawn from those values (:func:`maps.choropleth.classify`)."""
    if metric is not None and metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {list(METRICS)}")
    if tuple(str(c) for c in table["code"]) != shapes.codes:
        raise ValueError("the coverage table is not in the order of the grids")
    spec: dict[str, Any] = {
        "tips": grid_tips(table, labels=labels),
        "selected": shapes.codes.index(selected) if selected in shapes.codes else None,
    }
    if metric is None:
        spec.update(fills=None, style=OUTLINE)
        return spec, None, None
    classes = classify(
        table[metric].to_numpy(dtype=float),
        k=k,
        scheme=scheme,
        higher_is_worse=METRICS[metric],
        fmt=_fmt_value(metric),
        integer=metric in COUNT_METRICS,
        reference=reference,
    )
    spec.update(fills=classes.color_of(), style=FILLED)
    legend = {
        "title": labels[metric],
        "rows": [
            *([c, lab] for c, lab in zip(classes.colors, classes.labels, strict=True)),
            [NO_DATA, labels["no_data"]],
        ],
    }
    return spec, legend, classes


def heat_layer(
    data: Heat | None, *, basemap: Basemap = NO_BASEMAP, decimals: int = 5
) -> dict[str, Any] | None:
    """Case heat; binned cells are weighted by their counts, scaled to 0..1 for leaflet.heat."""
    if data is None or not len(data.lon):
        return None
    w = np.asarray(data.weight, dtype=float)
    top = float(w.max())
    radius = 14 if data.binned else 10
    lon, lat = basemap.to_map(data.lon, data.lat)
    return {
        "lat": np.round(lat, decimals).tolist(),
        "lon": np.round(lon, decimals).tolist(),
        "w": np.round(w / top if top > 0 else w, 3).tolist(),
        "radius": radius,
        "blur": radius + 4,
        "binned": bool(data.binned),
    }


def component_counts(
    points: pd.DataFrame | None, *, label: str, basemap: Basemap = NO_BASEMAP
) -> dict[str, Any] | None:
    """One circle per grid sized by its component count (``points``: lon, lat, count, name)."""
    if points is None:
        return None
    count = points["count"].to_numpy(dtype=float)
    top = max(float(count.max()), 1.0) if len(count) else 1.0
    lon, lat = basemap.to_map(points["lon"].to_numpy(dtype=float), points["lat"].to_numpy(dtype=float))
    return {
        "lat": np.round(lat, 5).tolist(),
        "lon": np.round(lon, 5).tolist(),
        "radius": np.round(4 + 16 * np.sqrt(count / top), 1).tolist(),
        "color": COMPONENT_COLOR,
        "tips": [[str(n), f"{int(c):,} {label}"] for n, c in zip(points["name"], count, strict=True)],
    }


def component_points(
    frame: pd.DataFrame | None, *, labels: Mapping[str, str], basemap: Basemap = NO_BASEMAP
) -> dict[str, Any] | None:
    """Components of the viewport as dots coloured by state (``frame``: lon, lat, code, class_name, state)."""
    if frame is None:
        return None
    state = frame["state"].astype(str)
    lon, lat = basemap.to_map(frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float))
    return {
        "lat": np.round(lat, 6).tolist(),
        "lon": np.round(lon, 6).tolist(),
        "color": state.map(STATE_COLORS).fillna(OTHER_STATE_COLOR).tolist(),
        "labels": [labels["code"], labels["class"], labels["state"]],
        "columns": [
            frame["code"].astype(str).tolist(),
            frame["class_name"].astype(str).tolist(),
            state.map({s: labels.get(f"state.{s}", s) for s in state.unique()}).tolist(),
        ],
    }


def points_legend(frame: pd.DataFrame | None, *, labels: Mapping[str, str]) -> dict[str, Any] | None:
    """The legend of the component dots' colours: one row per state (and "other" when a state
    without a colour of its own is drawn)."""
    if frame is None:
        return None
    rows = [[color, labels.get(f"state.{state}", state)] for state, color in STATE_COLORS.items()]
    if (~frame["state"].astype(str).isin(list(STATE_COLORS))).any():
        rows.append([OTHER_STATE_COLOR, labels.get("other_state", "?")])
    return {"title": labels.get("points_legend", labels["state"]), "rows": rows}


def coverage_spec(
    *,
    shapes: Shapes,
    table: pd.DataFrame,
    metric: str | None,
    labels: Mapping[str, str],
    basemap: Basemap,
    assets: Mapping[str, list[str]],
    heat: Heat | None = None,
    component_circles: pd.DataFrame | None = None,
    components: pd.DataFrame | None = None,
    selected: str | None = None,
    report_clicks: bool = True,
    report_view: bool = False,
    fit_key: str = "",
    height: int = 600,
    scheme: str = "quantiles",
    k: int = 5,
    reference: np.ndarray | None = None,
) -> tuple[dict[str, Any], Classes | None]:
    """Everything a :mod:`maps.livemap` map draws: grids by ``metric`` (or outlined), heat, components.

    ``shapes`` are the display grids and ``table`` their :func:`layers.analysis.coverage` rows in
    the same order; ``labels`` holds the page's words; the ``selected`` grid (a code) is outlined.
    The map fits the grids' bounds when first drawn and whenever ``fit_key`` changes (a new town),
    and keeps the user's view otherwise. It sends back clicks if ``report_clicks`` and its view if
    ``report_view``: each value sent reruns the page, so a page asks only for what it uses.
    """
    if shapes.datum != basemap.datum:
        raise ValueError(
            f"the grid shapes are drawn in {shapes.datum}, the basemap in {basemap.datum}: "
            "build them with shapes_of(..., datum=basemap.datum)"
        )
    grids, legend, classes = grid_layer(
        shapes=shapes,
        table=table,
        metric=metric,
        labels=labels,
        selected=selected,
        scheme=scheme,
        k=k,
        reference=reference,
    )
    spec = {
        "assets": dict(assets),
        "basemap": (
            {
                "url": basemap.url,
                "attribution": basemap.attribution,
                "failed": labels.get("basemap_failed", ""),
            }
            if basemap.url
            else None
        ),
        "shapes": shapes.spec(),
        "grids": grids,
        "legend": legend,
        "heat": heat_layer(heat, basemap=basemap),
        "circles": component_counts(component_circles, label=labels["components"], basemap=basemap),
        "points": component_points(components, labels=labels, basemap=basemap),
        "points_legend": points_legend(components, labels=labels),
        "layer_names": {
            "grids": labels["grids"],
            "heat": labels["heat"],
            "components": labels["components"],
            "points": labels.get("points", labels["components"]),
        },
        "report_clicks": report_clicks,
        "report_view": report_view,
        "fit_key": fit_key,
        "height": height,
    }
    return spec, classes
