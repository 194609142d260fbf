"""The overview and the explorer say what their numbers mean: rates, months, staff lists, points,
and the sidebar shows the filters a page reads (AppTest on the tiny district)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from layers import analysis
from layers.store import open_store
from maps.livemap import COMPONENT_NAME
from pages._i18n import STRINGS
from tests.maps.tinystore import END

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
CLOSURE_HELP = STRINGS["rate.closure_help"][0]


def _run(page: str | None = None, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(str(ROOT / "pages" / f"{page}.py")).run()
        assert not at.exception, at.exception
    return at


def _map(at: AppTest) -> dict:
    (spec,) = [
        json.loads(el.proto.json_args)["spec"]
        for el in at.get("component_instance")
        if el.proto.component_name == COMPONENT_NAME
    ]
    return spec


def _click(code_xy: tuple[float, float]) -> tuple[float, float]:
    lon, lat = analysis.to_lonlat([code_xy[0]], [code_xy[1]])
    return float(lat[0]), float(lon[0])


# -- 8. the closure rate ------------------------------------------------------------------------


def test_overview_closure_rate_has_its_definition_and_is_cut_down(app_env: Path) -> None:
    at = _run()
    (rate,) = [m for m in at.metric if m.label == "结案率"]
    assert rate.proto.help == CLOSURE_HELP
    assert rate.value.endswith("%") and "." in rate.value  # 0.1 % steps: 99.7 % is not "100 %"
    table = next(df.value for df in at.dataframe if "结案率" in df.value.columns)
    rates = table["结案率"].dropna()
    assert ((rates * 10).round(6) % 1 == 0).all() and (rates <= 100).all()  # percentages cut to 0.1


def test_explorer_panel_rate_has_its_definition(app_env: Path) -> None:
    at = _run("explorer", f_level=3, x_click=_click((557_500.0, 3_459_500.0)))
    (rate,) = [m for m in at.metric if m.label == "结案率"]
    assert rate.proto.help == CLOSURE_HELP


# -- 10. months only partly in the dates say so ---------------------------------------------------


def test_month_slider_says_which_days_of_a_month_are_in_the_dates(app_env: Path) -> None:
    at = _run("explorer", f_dates=(dt.date(2026, 2, 28), END))
    options = at.select_slider(key="x_month").options
    assert options[1:] == ["2026-02（仅 02-28）", "2026-03"], options
    at.select_slider(key="x_month").set_value("2026-02").run()
    assert not at.exception
    at = _run("explorer", f_dates=(dt.date(2026, 2, 3), dt.date(2026, 3, 20)))
    assert at.select_slider(key="x_month").options[1:] == [
        "2026-02（仅 02-03 至 02-28）",
        "2026-03（仅 03-01 至 03-20）",
    ]


# -- 11. a grid's staff list says when it is cut -------------------------------------------------


def test_staff_list_says_it_shows_the_first_of_many(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pages._caches as common

    monkeypatch.setattr(common, "STAFF_LISTED", 3)
    at = _run("explorer", f_level=1, x_click=_click((557_500.0, 3_459_500.0)))
    assert any("共 8 人" in c.value and "前 3 人" in c.value for c in at.caption), [
        c.value for c in at.caption
    ]
    staff = next(df.value for df in at.dataframe if "岗位" in df.value.columns)
    assert len(staff) == 3
    at = _run("explorer", f_level=3, x_click=_click((557_500.0, 3_459_500.0)))
    assert not any("前 3 人" in c.value for c in at.caption)  # 2 staff: the whole list, nothing to say


# -- 12. component points: legend, town, caption; heat off at first -----------------------------


def test_explorer_opens_without_heat_over_the_coverage_colours(app_env: Path) -> None:
    spec = _map(_run("explorer"))
    assert spec["heat"] is None and spec["legend"] is not None


def test_component_points_have_a_legend_and_keep_to_the_town(app_env: Path) -> None:
    from maps.events import View
    from maps.overlays import STATE_COLORS

    view = View(west=120.58, south=31.22, east=120.65, north=31.26, zoom=16)  # both towns
    everywhere = _run("explorer", x_comp=True, x_view=view)
    spec = _map(everywhere)
    assert spec["points_legend"]["rows"][: len(STATE_COLORS)] == [[c, s] for s, c in STATE_COLORS.items()]
    assert set(spec["points"]["color"]) <= {row[0] for row in spec["points_legend"]["rows"]}
    town = _run("explorer", x_comp=True, x_view=view, f_town="320506002000000")
    in_town = _map(town)
    codes = in_town["points"]["columns"][0]
    with open_store(app_env, readonly=True) as store:
        grids = dict(store.conn.execute("SELECT code, grid_code FROM components").fetchall())
    assert codes and {grids[c][:9] for c in codes} == {"320506002"}
    assert any("仅所选镇/街道" in c.value for c in town.caption), [c.value for c in town.caption]


# -- 13. the overview follows the grid level; filters only where a page reads them -------------


@pytest.mark.parametrize("level, n", [(1, 2), (2, 4), (3, 8)])
def test_overview_follows_the_sidebar_grid_level(app_env: Path, level: int, n: int) -> None:
    at = _run(f_level=level)
    assert _map(at)["shapes"]["n"] == n
    table = next(df.value for df in at.dataframe if "编码" in df.value.columns)
    assert len(table) == n


def test_overview_in_a_town_at_level_three(app_env: Path) -> None:
    at = _run(f_level=3, f_town="320506001000000")
    table = next(df.value for df in at.dataframe if "编码" in df.value.columns)
    assert len(table) == 4 and table["编码"].str.startswith("320506001").all()


def _filters(at: AppTest) -> set[str]:
    keys = {w.key for w in [*at.sidebar.date_input, *at.sidebar.radio, *at.sidebar.selectbox]}
    return keys & {"f_dates", "f_level", "f_town"}


def _sidebar_of_page() -> None:
    """A script drawing the shared sidebar filters for the page named in the session (as app.py
    does for the page it routes to), then the level it reads."""
    import streamlit as st

    from pages._common import sidebar_filters

    ctx = sidebar_filters(page=st.session_state.get("test_page", "home"))
    st.write(f"level {ctx.level}")


@pytest.mark.parametrize("page", ["surveyor", "planner"])
def test_sidebar_filters_only_where_the_page_reads_them(app_env: Path, page: str) -> None:
    at = AppTest.from_function(_sidebar_of_page, default_timeout=60).run()
    assert not at.exception, at.exception
    assert _filters(at) == {"f_dates", "f_level", "f_town"}  # the overview reads all three
    at.sidebar.radio(key="f_level").set_value(3).run()
    at.session_state["test_page"] = page
    at.run()
    assert not at.exception, at.exception
    assert _filters(at) == set() and not at.sidebar.subheader  # no "filters" heading either
    assert at.markdown[-1].value == "level 3"
    at.run()  # a second run on the page: still remembered
    at.session_state["test_page"] = "home"
    at.run()
    assert _filters(at) == {"f_dates", "f_level", "f_town"}
    assert at.sidebar.radio(key="f_level").value == 3  # kept while the filters were not shown


def test_only_the_overview_and_explorer_read_the_filters() -> None:
    """Every page that reads ``context().start/.end/.level/.town`` is listed; no other page is."""
    import re

    from pages._common import PAGE_FILTERS

    readers = {
        path.stem
        for path in (ROOT / "pages").glob("[a-z]*.py")
        if re.search(r"ctx\.(start|end|level|town)\b", path.read_text(encoding="utf-8"))
    }
    assert readers == set(PAGE_FILTERS) == {"home", "explorer"}


def test_month_play_keeps_the_legend_of_the_whole_range(app_env: Path) -> None:
    """Every month of the range is drawn in the same classes, so colours compare across months."""
    at = _run("explorer", f_dates=(dt.date(2026, 2, 1), END))
    legends = []
    for month in ("2026-02", "2026-03"):
        at.select_slider(key="x_month").set_value(month).run()
        assert not at.exception
        legends.append(_map(at)["legend"])
    assert legends[0] == legends[1]
    assert legends[0] is not None and len(legends[0]["rows"]) >= 3
