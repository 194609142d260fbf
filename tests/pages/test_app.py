"""The app frame and its pages through Streamlit's AppTest, per role, on the tiny district."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from maps.livemap import COMPONENT_NAME
from maps.offline import remote_urls
from pages._common import ROLE_PAGES, generation_lock
from tests.maps.tinystore import build_tiny_store

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def _app(**state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in state.items():
        at.session_state[k] = v
    return at


def _maps(at: AppTest) -> list[dict]:
    """The specs of the live maps the page drew (:mod:`maps.livemap`)."""
    return [
        json.loads(el.proto.json_args)["spec"]
        for el in at.get("component_instance")
        if el.proto.component_name == COMPONENT_NAME
    ]


def _assert_local_map(at: AppTest) -> dict:
    maps = _maps(at)
    assert maps, "the page drew no map"
    for spec in maps:
        for url in [*spec["assets"]["js"], *spec["assets"]["css"]]:
            assert url.startswith("/app/static/vendor/"), url
            assert (ROOT / "static" / "vendor" / url.removeprefix("/app/static/vendor/")).is_file(), url
        text = json.dumps(spec, ensure_ascii=False)
        assert remote_urls(text) == [], "a map refers to a remote address with no basemap"
        assert spec["basemap"] is None
    return maps[0]


@pytest.mark.parametrize("role", sorted(ROLE_PAGES))
def test_every_role_opens_its_pages(app_env: Path, role: str) -> None:
    at = _app(role=role).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    if ROLE_PAGES[role][0] != "home":  # a case-desk role lands on its desk (tests/pages/test_desk_pages.py)
        if "home" not in ROLE_PAGES[role]:
            return
        at.switch_page(str(ROOT / "pages" / "home.py")).run()
        assert not at.exception, at.exception
    overview = _assert_local_map(at)
    assert overview["report_clicks"] is False and overview["report_view"] is False
    if "explorer" in ROLE_PAGES[role]:
        at.switch_page(str(ROOT / "pages" / "explorer.py")).run()
        assert not at.exception, at.exception
        _assert_local_map(at)


def test_english_switch(app_env: Path) -> None:
    at = _app(lang="en").run()
    assert not at.exception
    assert at.title[0].value == "OneGrid overview"
    assert "Cases (selected dates)" in [m.label for m in at.metric]


def _explorer(**state: object) -> AppTest:
    at = _app(**state).run()
    at.switch_page(str(ROOT / "pages" / "explorer.py")).run()
    assert not at.exception, at.exception
    return at


def test_explorer_filters_change_the_heat(app_env: Path) -> None:
    at = _explorer()
    assert _assert_local_map(at)["heat"] is None  # off at first: it would hide the coverage colours
    at.toggle(key="x_heat").set_value(True).run()
    first = _assert_local_map(at)
    assert first["heat"] and len(first["heat"]["lat"]) > 0
    at.multiselect(key="x_status").set_value(["closed"]).run()
    assert not at.exception
    after = _assert_local_map(at)
    assert after["heat"]["w"] != first["heat"]["w"] or after["heat"]["lat"] != first["heat"]["lat"]
    assert after["grids"]["tips"] != first["grids"]["tips"]  # fewer cases in the tooltips
    assert after["shapes"] == first["shapes"]  # the geometry the browser holds is reused
    at.select_slider(key="x_month").set_value("2026-03").run()
    assert not at.exception
    at.selectbox(key="x_metric").set_value("closure_rate").run()
    at.toggle(key="x_heat").set_value(False).run()
    assert not at.exception
    last = _assert_local_map(at)
    assert last["heat"] is None and last["legend"]["title"] == "结案率"


def test_explorer_grid_panel_masks_staff(app_env: Path) -> None:
    from layers import analysis

    lon, lat = analysis.to_lonlat([557_500.0], [3_459_500.0])  # inside grid 320506001001001
    at = _explorer(f_level=3, x_click=(float(lat[0]), float(lon[0])))
    texts = [t.value for t in at.text]
    assert any("320506001001001" in t for t in texts), texts
    spec = _assert_local_map(at)
    assert spec["grids"]["selected"] is not None  # the clicked grid is outlined on the map
    frames = [df.value for df in at.dataframe]
    staff = next(f for f in frames if "320506001001001" in f.to_string())
    assert "张三丰" not in staff.to_string() and "13912345678" not in staff.to_string()


def test_explorer_components_at_street_zoom(app_env: Path) -> None:
    from maps.events import View

    at = _explorer(x_comp=True, x_view=View(west=120.59, south=31.22, east=120.62, north=31.26, zoom=16))
    spec = _assert_local_map(at)
    assert spec["points"] and 0 < len(spec["points"]["lat"]) <= 2000
    assert spec["circles"] and spec["report_view"] is True
    # More in view than the map draws: the caption says why fewer are shown.
    assert any("最多绘制 2,000 个" in c.value and "均匀抽取 2,000 个" in c.value for c in at.caption), [
        c.value for c in at.caption
    ]


def test_explorer_on_gcj02_tiles(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An intranet GCJ-02 basemap: the grids are drawn shifted onto it, the panel still finds the
    grid of a WGS84 position, and the only remote address is the tile service."""
    import settings
    from layers import analysis

    plain = _maps(_explorer(f_level=3))[0]
    tiles = "http://10.1.2.3/amap/{z}/{x}/{y}.png"
    monkeypatch.setattr(settings, "TILES", tiles)
    monkeypatch.setattr(settings, "TILES_DATUM", "gcj02")
    lon, lat = analysis.to_lonlat([557_500.0], [3_459_500.0])  # inside grid 320506001001001
    at = _explorer(f_level=3, x_click=(float(lat[0]), float(lon[0])))
    spec = _maps(at)[0]
    assert spec["basemap"]["url"] == tiles and spec["basemap"]["attribution"] == ""
    assert spec["basemap"]["failed"].startswith("底图无法加载")  # what the map says if the tiles fail
    assert remote_urls(json.dumps(spec, ensure_ascii=False), allowed=(tiles,)) == []
    assert spec["shapes"]["id"] != plain["shapes"]["id"]
    assert spec["shapes"]["bounds"][0] - plain["shapes"]["bounds"][0] > 0.003
    assert any("320506001001001" in t.value for t in at.text)
    assert spec["grids"]["selected"] is not None


def test_a_broken_store_becomes_one_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database", encoding="utf-8")
    monkeypatch.setenv("ONEGRID_STORE", str(bad))
    at = _app().run()
    assert not at.exception
    assert at.error and "not a SQLite file" in at.error[0].value


def test_first_run_generates_then_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import layers.generate.build as build

    target = tmp_path / "new" / "onegrid.sqlite"
    calls: list[tuple[str, float]] = []

    def fake_generate(path: Path, **kw: object) -> None:
        progress = kw["progress"]
        progress("grids", 0.5)  # type: ignore[operator]
        calls.append(("grids", 0.5))
        build_tiny_store(Path(path), n_components=200, cases_per_day=5)

    monkeypatch.setattr(build, "generate_store", fake_generate)
    monkeypatch.setenv("ONEGRID_STORE", str(target))
    at = _app().run()
    assert not at.exception, at.exception
    assert calls and target.exists()
    assert at.title[0].value == "一张网 总览"  # reran and opened the new store


def test_generation_lock_excludes_a_second_session(tmp_path: Path) -> None:
    target = tmp_path / "s.sqlite"
    with generation_lock(target) as first:
        assert first
        with generation_lock(target) as second:
            assert not second
    with generation_lock(target) as again:
        assert again


def test_warm_caches_fills_the_entries_the_first_pages_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the warm-up, the overview's and explorer's first reads are cache hits, not store reads."""
    import pages._caches as common
    from layers import analysis

    path = build_tiny_store(tmp_path / "fresh.sqlite")  # a new store file: nothing cached for it yet
    done = common.warm_caches(path)
    assert done[:3] == ["grids 1", "grids 2", "grids 3"] and done[-1].startswith("cases ")

    def no_more_reads(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warmed entry was computed again")

    monkeypatch.setattr(common, "shapes_of", no_more_reads)
    monkeypatch.setattr(analysis, "load_cases", no_more_reads)
    key = common.store_key(path)
    revs, span = common.revisions_and_span(path)
    start, end = common.default_dates(span)
    flt = analysis.CaseFilter(start=start, end=end)
    for level in (1, 2, 3):
        common.cached_shapes(key, (revs["grids"],), level, None, "wgs84")
    # The overview and the explorer both open on level 2 without heat.
    common.cached_case_aggregates(key, (revs["cases"],), flt, common.DEFAULT_LEVEL, False)
    assert common.warm_caches(tmp_path / "missing.sqlite") == []  # the first session generates it


@pytest.mark.parametrize("role", sorted(ROLE_PAGES))
def test_a_role_switch_is_written_to_the_address(app_env: Path, role: str) -> None:
    at = _app(role=role, lang="en").run()
    assert not at.exception, at.exception
    assert at.query_params["role"] == role and at.query_params["lang"] == "en"
    assert at.sidebar.selectbox(key="role").label == "Working as"


def test_the_address_preselects_role_and_language(app_env: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["role"] = "surveyor"
    at.query_params["lang"] = "en"
    at.run()
    assert at.session_state["role"] == "surveyor" and at.session_state["lang"] == "en"


def test_the_app_says_once_that_the_district_is_simulated(app_env: Path) -> None:
    at = _app(lang="en").run()
    notes = [c.value for c in at.sidebar.caption if "simulated" in c.value]
    assert len(notes) == 1, notes


def test_a_page_of_another_role_says_whose_it_is(app_env: Path) -> None:
    """An analyst opening the planner's address is told the page is the planner's, with links to
    the analyst's own pages: not sent silently to the overview."""
    from pages._common import pages_of

    assert "planner" not in pages_of("analyst")
    # AppTest opens a page by its script; the refused page is a function, so run it on its own.
    script = AppTest.from_function(_refused_planner, default_timeout=30)
    script.session_state["role"] = "analyst"
    script.session_state["lang"] = "en"
    script.run()
    assert not script.exception, script.exception
    warning = script.warning[0].value
    assert "Grid planning" in warning and "Planner" in warning and "Analyst" in warning


def _refused_planner() -> None:
    from pages._common import not_for_this_role

    not_for_this_role("planner")
