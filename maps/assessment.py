"""Maps of the assessment and the analysis: scores per unit and Gi* hot spots per grid.

Their classes are fixed, not drawn from the data of the month shown, so a colour means the same
score or the same significance from one month to the next.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement, Template

from maps.base import Basemap, base_map, frame_to_datum
from maps.choropleth import NO_DATA
from maps.geometry import lonlat_bounds

#: Score classes (upper bounds, inclusive): the same in every month and view.
SCORE_BINS = (60.0, 70.0, 80.0, 90.0, 95.0, 100.0)
SCORE_COLORS = ("#d73027", "#fc8d59", "#fee08b", "#d9ef8b", "#91cf60", "#1a9850")
SCORE_LABELS = ("< 60", "60 – 70", "70 – 80", "80 – 90", "90 – 95", "95 – 100")
#: Hot-spot classes: significance after the false discovery rate, split by the Gi* z-score.
SPOT_CLASSES = ("hot_strong", "hot", "none", "cold", "cold_strong")
SPOT_COLORS = {
    "hot_strong": "#b2182b",
    "hot": "#ef8a62",
    "none": "#f7f7f7",
    "cold": "#67a9cf",
    "cold_strong": "#2166ac",
}
#: |z| at or above this is a "strong" hot or cold spot (99 % two-sided).
STRONG_Z = 2.576


def score_classes(scores: np.ndarray) -> np.ndarray:
    """Class index of each score in :data:`SCORE_BINS` (-1 where there is no score)."""
    s = np.asarray(scores, dtype=float)
    idx = np.searchsorted(np.asarray(SCORE_BINS), s, side="left")
    return np.where(np.isfinite(s), np.minimum(idx, len(SCORE_BINS) - 1), -1)


def spot_classes(spot: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The hot-spot class of each grid from its FDR decision (hot/cold/none) and its z-score."""
    spot = np.asarray(spot, dtype=object)
    strong = np.abs(np.asarray(z, dtype=float)) >= STRONG_Z
    return np.select(
        [(spot == "hot") & strong, spot == "hot", (spot == "cold") & strong, spot == "cold"],
        ["hot_strong", "hot", "cold_strong", "cold"],
        default="none",
    ).astype(object)


_LEGEND = """
{% macro html(this, kwargs) %}
<div style="position: absolute; z-index: 9999; bottom: 24px; right: 12px; background: white;
  padding: 6px 8px; border: 1px solid #999; font: 12px sans-serif; line-height: 1.5;">
  <b>{{ this.title }}</b><br>
  {% for color, label in this.rows %}
  <span style="display:inline-block;width:12px;height:12px;background:{{ color }};
    border:1px solid #777;margin-right:4px;vertical-align:middle"></span>{{ label }}<br>
  {% endfor %}
</div>
{% endmacro %}
"""


class _Legend(MacroElement):
    def __init__(self, title: str, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self._template = Template(_LEGEND)
        self.title = html.escape(title)
        self.rows = [(c, html.escape(label)) for c, label in rows]


def _map(
    grids: gpd.GeoDataFrame,
    fills: list[str],
    tips: pd.DataFrame,
    *,
    basemap: Basemap,
    legend: tuple[str, list[tuple[str, str]]],
) -> folium.Map:
    shown = frame_to_datum(grids[["geometry"]].assign(fill=fills), datum=basemap.datum)
    for col in tips.columns:  # every text escaped: the tooltip is HTML
        shown[col] = [html.escape(str(v)) for v in tips[col]]
    m = base_map(bounds=lonlat_bounds(grids), basemap=basemap)
    folium.GeoJson(
        shown.to_json(),
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "color": "#555",
            "weight": 0.6,
            "fillOpacity": 0.75,
        },
        tooltip=folium.GeoJsonTooltip(fields=list(tips.columns), labels=True),
    ).add_to(m)
    m.get_root().add_child(_Legend(*legend))
    return m


def score_map(
    grids: gpd.GeoDataFrame,
    scores: Mapping[str, float],
    *,
    basemap: Basemap,
    labels: Mapping[str, str],
) -> folium.Map:
    """Units (display grids in WGS84 with ``code`` and ``name``) coloured by their score."""
    s = grids["code"].map(scores).to_numpy(dtype=float)
    idx = score_classes(s)
    fills = [SCORE_COLORS[i] if i >= 0 else NO_DATA for i in idx]
    tips = pd.DataFrame(
        {
            labels["name"]: grids["name"].to_numpy(),
            labels["score"]: [f"{v:.2f}" if np.isfinite(v) else "—" for v in s],
        }
    )
    rows = [*zip(SCORE_COLORS, SCORE_LABELS, strict=True), (NO_DATA, labels["no_data"])]
    return _map(grids, fills, tips, basemap=basemap, legend=(labels["score"], rows))


def hotspot_map(
    grids: gpd.GeoDataFrame,
    cells: pd.DataFrame,
    *,
    basemap: Basemap,
    labels: Mapping[str, str],
) -> folium.Map:
    """Level-3 grids coloured by their hot-spot class of one month (``cells``: code, spot, z,
    cases, p)."""
    by_code = cells.set_index("code")
    c = by_code.reindex(grids["code"])
    cls = spot_classes(c["spot"].fillna("none").to_numpy(), c["z"].fillna(0).to_numpy())
    fills = [SPOT_COLORS[k] for k in cls]
    tips = pd.DataFrame(
        {
            labels["name"]: grids["name"].to_numpy(),
            labels["cases"]: c["cases"].fillna(0).astype(int).to_numpy(),
            labels["z"]: [f"{v:.2f}" for v in c["z"].fillna(0)],
            labels["p"]: [f"{v:.4f}" for v in c["p"].fillna(1)],
            labels["class"]: [labels[f"spot.{k}"] for k in cls],
        }
    )
    rows = [(SPOT_COLORS[k], labels[f"spot.{k}"]) for k in SPOT_CLASSES]
    return _map(grids, fills, tips, basemap=basemap, legend=(labels["spot"], rows))
