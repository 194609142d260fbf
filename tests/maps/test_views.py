"""The pages' maps on the tiny district: nothing remote but tiles, every text escaped, small payloads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from layers import analysis
from layers.grids import load_grids
from layers.store import open_store
from maps.base import basemap_from_setting, payload_bytes, render_html
from maps.geometry import display_grids
from maps.offline import remote_urls
from maps.views import coverage_map, viewport_components
from tests.maps.tinystore import END

LABELS = {
    k: f"L:{k}"
    for k in (
        "name",
        "code",
        "cases",
        "cases_per_km2",
        "open",
        "overdue",
        "closure_rate",
        "components",
        "components_per_km2",
        "grids",
        "heat",
        "no_data",
        "class",
        "state",
    )
}
MAX_PAYLOAD = 3 * 1024 * 1024


def _in_script(text: str) -> str:
    """How folium writes a string into the map's script (HTML-safe JSON)."""
    from jinja2.utils import htmlsafe_json_dumps

    return str(htmlsafe_json_dumps(text))[1:-1]


@pytest.fixture(scope="module")
def data(tiny_store: Path) -> dict:
    with open_store(tiny_store, readonly=True) as store:
        out = {}
        for level in (1, 2, 3):
            g = load_grids(store, level=level)
            flt = analysis.CaseFilter(start=END - dt.timedelta(days=40), end=END)
            cases = analysis.load_cases(store, flt)
            stats = analysis.grid_case_stats(cases, level=level, as_of=analysis.data_now(store))
            table = analysis.coverage(
                g, case_stats=stats, components=analysis.component_counts(store, level=level)
            )
            heat = analysis.heat(cases["x"].to_numpy(), cases["y"].to_numpy(), days=flt.days, raw_limit=10)
            circles = analysis.grid_points(g).assign(count=table["components"].to_numpy())
            out[level] = (display_grids(g), table, heat, circles)
        index = analysis.component_index(store)
        comps, total = analysis.components_in_view(
            store, index, west=120.59, south=31.22, east=120.62, north=31.26, limit=300
        )
        out["components"] = (comps, total)
    return out


@pytest.mark.parametrize("tiles", ["osm", "none", "https://tiles.example.cn/{z}/{x}/{y}.png"])
@pytest.mark.parametrize("metric", [None, *analysis.METRICS])
@pytest.mark.parametrize("level", [1, 3])
def test_coverage_map_is_offline_and_escaped(data: dict, tiles: str, metric: str | None, level: int) -> None:
    grids, table, heat, circles = data[level]
    basemap = basemap_from_setting(tiles)
    m, classes = coverage_map(
        grids=grids,
        table=table,
        metric=metric,
        labels=LABELS,
        basemap=basemap,
        heat=heat,
        component_circles=circles,
    )
    html = render_html(m)
    assert remote_urls(html, allowed=basemap.allowed_urls) == []
    assert "<script>alert" not in html and "<b>横泾" not in html
    assert (classes is None) == (metric is None)
    assert payload_bytes(m) < MAX_PAYLOAD


def test_tooltips_carry_escaped_names(data: dict) -> None:
    grids, table, _, _ = data[1]
    m, _ = coverage_map(
        grids=grids, table=table, metric="open", labels=LABELS, basemap=basemap_from_setting("none")
    )
    html = render_html(m)
    assert _in_script("&lt;b&gt;横泾&lt;/b&gt;&lt;script&gt;") in html


def test_heat_is_binned_beyond_a_day(data: dict) -> None:
    heat = data[3][2]
    assert heat.binned and heat.cell_m == analysis.HEAT_CELL_M
    assert len(heat.lon) < heat.n_cases and heat.weight.sum() == heat.n_cases


def test_viewport_components_are_bounded_and_local(data: dict) -> None:
    comps, total = data["components"]
    assert 0 < len(comps) <= 300 and total >= len(comps)
    fg = viewport_components(comps, labels=LABELS)
    import folium

    m = folium.Map(tiles=None)
    fg.add_to(m)
    html = render_html(m)
    assert _in_script("路灯&lt;1&gt;") in html and "路灯<1>" not in html


def test_unknown_metric_and_misaligned_table(data: dict) -> None:
    grids, table, _, _ = data[1]
    with pytest.raises(ValueError, match="unknown metric"):
        coverage_map(
            grids=grids, table=table, metric="bogus", labels=LABELS, basemap=basemap_from_setting("none")
        )
    with pytest.raises(ValueError, match="not in the order"):
        coverage_map(
            grids=grids,
            table=table.iloc[::-1],
            metric=None,
            labels=LABELS,
            basemap=basemap_from_setting("none"),
        )
