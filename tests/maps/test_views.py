"""The live maps' data on the tiny district: geometry once, small per-grid arrays, texts as plain text."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from layers import analysis
from layers.grids import load_grids
from layers.store import open_store
from maps.base import basemap_from_setting
from maps.choropleth import NO_DATA
from maps.geometry import display_grids
from maps.livemap import assets
from maps.offline import remote_urls
from maps.views import coverage_spec, shapes_of
from tests.maps.tinystore import END, EVIL_NAME

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
        "points",
    )
}
MAX_PAYLOAD = 3 * 1024 * 1024


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


def _spec(data: dict, level: int, **kw: object) -> tuple[dict, object]:
    grids, table = data[level][:2]
    options: dict = {
        "metric": "cases_per_km2",
        "basemap": basemap_from_setting("none"),
        "labels": LABELS,
        **kw,
    }
    return coverage_spec(shapes=shapes_of(grids), table=table, assets=assets(), **options)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_shapes_are_the_display_grids_in_order(data: dict, level: int) -> None:
    grids = data[level][0]
    shapes = shapes_of(grids)
    fc = json.loads(shapes.json)
    assert [f["id"] for f in fc["features"]] == list(grids["code"]) == list(shapes.codes)
    back = shapely.from_geojson([json.dumps(f["geometry"]) for f in fc["features"]])
    assert shapely.equals(back, grids.geometry.to_numpy()).all()
    assert shapes_of(grids).id == shapes.id  # same geometry, same id: the browser keeps it
    assert shapes_of(grids.iloc[:-1]).id != shapes.id


def test_shapes_need_wgs84(data: dict) -> None:
    with pytest.raises(ValueError, match="WGS84"):
        shapes_of(data[1][0].to_crs("EPSG:4549"))


@pytest.mark.parametrize("tiles", ["osm", "none", "https://tiles.example.cn/{z}/{x}/{y}.png"])
@pytest.mark.parametrize("metric", [None, *analysis.METRICS])
@pytest.mark.parametrize("level", [1, 3])
def test_spec_is_offline_and_small(data: dict, tiles: str, metric: str | None, level: int) -> None:
    basemap = basemap_from_setting(tiles)
    spec, classes = _spec(data, level, metric=metric, basemap=basemap, heat=data[level][2])
    text = json.dumps(spec, ensure_ascii=False)
    assert remote_urls(text, allowed=basemap.allowed_urls) == []
    assert all(u.startswith("/app/static/vendor/") for u in spec["assets"]["js"] + spec["assets"]["css"])
    assert (classes is None) == (metric is None) == (spec["legend"] is None)
    assert (spec["basemap"] is None) == (tiles == "none")
    assert len(text.encode("utf-8")) < MAX_PAYLOAD
    n = len(data[level][1])
    assert spec["shapes"]["n"] == n
    assert all(len(col) == n for col in spec["grids"]["tips"]["columns"])
    if metric is not None:
        assert len(spec["grids"]["fills"]) == n
        assert spec["legend"]["rows"][-1] == [NO_DATA, LABELS["no_data"]]


def test_colours_follow_the_classes(data: dict) -> None:
    table = data[3][1]
    spec, classes = _spec(data, 3, metric="open")
    fills = spec["grids"]["fills"]
    values = table["open"].to_numpy(dtype=float)
    order = np.argsort(values, kind="stable")
    ranks = [classes.colors.index(fills[i]) for i in order]  # type: ignore[union-attr]
    assert ranks == sorted(ranks)  # more open cases, never a lighter colour
    assert [row[0] for row in spec["legend"]["rows"][:-1]] == list(classes.colors)  # type: ignore[union-attr]


def test_texts_stay_plain_text(data: dict) -> None:
    """Names go to the browser as they are (it writes them with textContent), not pre-escaped HTML."""
    spec, _ = _spec(data, 1)
    tips = spec["grids"]["tips"]
    names = tips["columns"][tips["labels"].index(LABELS["name"])]
    assert EVIL_NAME in names


def test_filter_change_moves_only_styles_and_heat(data: dict) -> None:
    heat = data[3][2]
    a, _ = _spec(data, 3, heat=heat)
    b, _ = _spec(data, 3, heat=None, metric="closure_rate")
    assert a["shapes"] == b["shapes"]
    assert a["grids"]["fills"] != b["grids"]["fills"] and b["heat"] is None


def test_heat_is_binned_beyond_a_day(data: dict) -> None:
    heat = data[3][2]
    assert heat.binned and heat.cell_m == analysis.HEAT_CELL_M
    assert len(heat.lon) < heat.n_cases and heat.weight.sum() == heat.n_cases
    spec, _ = _spec(data, 3, heat=heat)
    h = spec["heat"]
    assert len(h["lat"]) == len(h["lon"]) == len(h["w"]) == len(heat.lon)
    assert max(h["w"]) == 1.0 and min(h["w"]) > 0


STATES_ZH = ("完好", "破损", "丢失", "占用")


def test_components_as_circles_and_viewport_points(data: dict) -> None:
    comps, total = data["components"]
    assert 0 < len(comps) <= 300 and total >= len(comps)
    circles = data[3][3]
    spec, _ = _spec(data, 3, component_circles=circles, components=comps, report_view=True)
    assert len(spec["circles"]["lat"]) == len(circles) and max(spec["circles"]["radius"]) == 20.0
    pts = spec["points"]
    assert len(pts["lat"]) == len(comps) and pts["labels"] == [
        LABELS["code"],
        LABELS["class"],
        LABELS["state"],
    ]
    assert "路灯<1>" in pts["columns"][1]  # plain text, written with textContent
    assert spec["report_view"] is True
    # The state in a dot's tip is the page's word for it (the colour follows the stored state).
    english = {
        **LABELS,
        **{
            f"state.{k}": v
            for k, v in {"完好": "Intact", "破损": "Damaged", "丢失": "Missing", "占用": "Occupied"}.items()
        },
    }
    spec, _ = _spec(data, 3, components=comps, labels=english)
    shown = set(spec["points"]["columns"][2])
    assert shown and shown <= {"Intact", "Damaged", "Missing", "Occupied"} | (
        set(comps["state"]) - set(STATES_ZH)
    )


def test_unknown_metric_and_misaligned_table(data: dict) -> None:
    grids, table, _, _ = data[1]
    with pytest.raises(ValueError, match="unknown metric"):
        _spec(data, 1, metric="bogus")
    with pytest.raises(ValueError, match="not in the order"):
        coverage_spec(
            shapes=shapes_of(grids),
            table=table.iloc[::-1],
            metric=None,
            labels=LABELS,
            basemap=basemap_from_setting("none"),
            assets=assets(),
        )


def test_the_selected_grid_is_marked_by_position(data: dict) -> None:
    table = data[3][1]
    code = str(table["code"].iloc[3])
    spec, _ = _spec(data, 3, selected=code)
    assert spec["grids"]["selected"] == 3
    assert _spec(data, 3, selected="999")[0]["grids"]["selected"] is None
    assert _spec(data, 3)[0]["grids"]["selected"] is None


def test_on_gcj02_tiles_everything_is_drawn_shifted(data: dict) -> None:
    grids, table, heat, _ = data[3]
    gcj = basemap_from_setting("http://10.1.2.3/{z}/{x}/{y}.png", datum="gcj02")
    plain = shapes_of(grids)
    shifted = shapes_of(grids, datum="gcj02")
    assert shifted.id != plain.id and shifted.codes == plain.codes
    assert shifted.bounds[0] - plain.bounds[0] > 0.003  # ~400 m east around Suzhou
    # Neighbours still share their edges after the shift: no gap or overlap opens on the map.
    fc = json.loads(shifted.json)
    moved = shapely.from_geojson([json.dumps(f["geometry"]) for f in fc["features"]])
    assert shapely.area(shapely.union_all(moved)) == pytest.approx(shapely.area(moved).sum(), rel=1e-9)
    spec, _ = coverage_spec(
        shapes=shifted, table=table, metric=None, labels=LABELS, basemap=gcj, assets=assets(), heat=heat
    )
    lon, lat = gcj.to_map(heat.lon, heat.lat)
    np.testing.assert_allclose(spec["heat"]["lon"], np.round(lon, 5))
    np.testing.assert_allclose(spec["heat"]["lat"], np.round(lat, 5))
    with pytest.raises(ValueError, match="drawn in wgs84, the basemap in gcj02"):
        coverage_spec(shapes=plain, table=table, metric=None, labels=LABELS, basemap=gcj, assets=assets())


def test_legends_read_distinct_classes_and_rates_never_round_up(data: dict) -> None:
    """Closure rates crowded at 100 % and overdue counts that are mostly 0 (as a quiet month has):
    every legend row different and readable, and only a rate of exactly 1 reads 100 %."""
    grids, table = data[3][:2]
    assert len(table) == 8
    table = table.assign(
        overdue=[0, 0, 0, 0, 0, 0, 1, 3],
        closure_rate=[1.0, 1.0, 1.0, 1.0, 0.9996, 0.997, 0.98, np.nan],
    )
    shapes = shapes_of(grids)
    none = basemap_from_setting("none")
    for metric in ("overdue", "closure_rate"):
        spec, _ = coverage_spec(
            shapes=shapes, table=table, metric=metric, labels=LABELS, basemap=none, assets=assets()
        )
        texts = [row[1] for row in spec["legend"]["rows"][:-1]]
        assert len(set(texts)) == len(texts), texts
        for text in texts:
            lo, _, hi = text.partition(" – ")
            assert lo != hi, texts
        if metric == "overdue":
            assert texts[0] == "0" and "0 – 1" not in texts
        else:
            assert [t for t in texts if "100" in t] == [texts[-1]], texts
    tips = spec["grids"]["tips"]
    rates = tips["columns"][tips["labels"].index(LABELS["closure_rate"])]
    assert rates == ["100.0%"] * 4 + ["99.9%", "99.7%", "98.0%", "–"]
