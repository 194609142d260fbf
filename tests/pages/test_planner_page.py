"""The grid planning page through Streamlit's AppTest, on the hand-made store of the layer tests."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import settings
from tests.layers.test_planner import CURRENT, G1, MOVED, X0, Y0, box, grid_frame, make_store, snapshot

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "planner.py")


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # Adoption depends on the day: a valid-from still to come is scheduled, not applied. The clock
    # is pinned after every valid-from these tests adopt immediately.
    monkeypatch.setenv("ONEGRID_NOW", "2027-06-01T09:00:00")


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_store(tmp_path / "page.sqlite")
    monkeypatch.setenv("ONEGRID_STORE", str(path))
    monkeypatch.setattr(settings, "TILES", "none")
    return path


def geojson(level3: dict) -> bytes:
    buf = io.BytesIO()
    grid_frame(level3).to_crs("EPSG:4326").to_file(buf, driver="GeoJSON")
    return buf.getvalue()


def _app(role: str = "planner", lang: str = "zh") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["role"] = role
    at.session_state["lang"] = lang
    at.session_state["user"] = "规划员 王五"
    return at


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.run()
    at.radio(key="planner.source").set_value("upload").run()
    at.file_uploader(key="planner.upload").set_value((name, data, "application/geo+json")).run()
    assert not at.exception, at.exception
    return at


def test_current_grids_are_clean(store_path: Path) -> None:
    at = _app()
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "网格规划"
    assert any("拓扑检查通过" in s.value for s in at.success)
    # Nothing to download for a clean check (issue 12, item 7).
    assert not at.get("download_button")


def test_english(store_path: Path) -> None:
    at = _app(lang="en")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Grid planning"
    assert any("Topology is clean" in s.value for s in at.success)


def test_current_grids_with_a_gap_list_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gap = dict(CURRENT)
    gap[G1] = box(0, 90)
    path = make_store(tmp_path / "gap.sqlite", gap)
    monkeypatch.setenv("ONEGRID_STORE", str(path))
    monkeypatch.setattr(settings, "TILES", "none")
    at = _app()
    at.run()
    assert not at.exception, at.exception
    assert any("1 个拓扑问题（缺口 1）" in e.value for e in at.error)
    table = at.dataframe[0].value
    assert list(table.columns) == ["问题", "层级", "网格", "量", "说明"]
    assert table["问题"].tolist() == ["缺口"]
    assert G1 in table["网格"].iloc[0]
    assert table["说明"].iloc[0].startswith("第 3 级网格之间有 2,000.0 m² 的缺口，邻接")
    assert [b.label for b in at.get("download_button")] == ["下载问题 GeoJSON", "下载问题 CSV"]


def test_upload_shows_impact_and_adopts(store_path: Path) -> None:
    at = _upload(_app(), "moved.geojson", geojson(MOVED))
    assert any("拓扑检查通过" in s.value for s in at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["变更网格"] == "2"
    assert metrics["改划部件"] == "2"
    assert metrics["改划在办案件"] == "1"
    at.date_input(key="planner.valid_from").set_value(dt.date(2026, 12, 1))
    at.checkbox(key="planner.sure").check()
    at.button[0].click()  # the form's submit button
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("已启用第 2 代网格" in s.value for s in at.success)
    conn = sqlite3.connect(store_path)
    assert conn.execute("SELECT id, valid_from FROM generations WHERE valid_to IS NULL").fetchone() == (
        2,
        "2026-12-01",
    )
    assert conn.execute("SELECT DISTINCT actor FROM component_history").fetchall() == [("规划员 王五",)]
    conn.close()


def test_adoption_needs_confirmation(store_path: Path) -> None:
    before = snapshot(store_path)
    at = _upload(_app(), "moved.geojson", geojson(MOVED))
    at.button[0].click()
    at.run()
    assert any("请先勾选确认" in w.value for w in at.warning)
    assert snapshot(store_path) == before


def test_only_a_planner_may_adopt(store_path: Path) -> None:
    at = _upload(_app(role="analyst"), "moved.geojson", geojson(MOVED))
    assert any("只有规划员" in i.value for i in at.info)
    assert not at.get("form")


def test_upload_with_problems_cannot_be_adopted(store_path: Path) -> None:
    gap = dict(MOVED)
    gap[G1] = box(0, 90)
    at = _upload(_app(), "gap.geojson", geojson(gap))
    assert any("拓扑问题" in e.value for e in at.error)
    assert any("不能启用" in w.value for w in at.warning)
    assert not at.get("form")


def test_upload_too_large_or_unreadable(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _upload(_app(), "bad.geojson", b"{ not json")
    assert any("cannot be read" in e.value for e in at.error)
    monkeypatch.setattr(settings, "MAX_UPLOAD_MB", 0)
    at = _upload(_app(), "moved.geojson", geojson(MOVED))
    # The size rule of every upload (layers.tabular), in the session's language; messages are
    # escaped Markdown.
    assert any("moved.geojson 为 0.0 MB，超过上限 0.0 MB" in e.value.replace("\\", "") for e in at.error)


# -- issue 12: items 6, 7 and 14 on the page --------------------------------------------------

CJK = re.compile(r"[\u3400-\u9fff]")


def _map_args(at: AppTest) -> dict:
    maps = [
        json.loads(el.proto.json_args)
        for el in at.get("component_instance")
        if el.proto.component_name == "streamlit_folium.st_folium"
    ]
    assert len(maps) == 1
    return maps[0]


def _fit_bounds(script: str) -> tuple[float, float, float, float]:
    m = re.search(r"fitBounds\(\s*\[\[([-\d.]+),\s*([-\d.]+)\],\s*\[([-\d.]+),\s*([-\d.]+)\]\]", script)
    assert m, "the map is not fitted to bounds"
    south, west, north, east = (float(v) for v in m.groups())
    return west, south, east, north


def _lon(x: float) -> float:
    from pyproj import Transformer

    lon, _lat = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True).transform(X0 + x, Y0 + 100)
    return float(lon)


def test_upload_zooms_to_the_reshaped_grids_with_old_and_new_outlines(store_path: Path) -> None:
    at = _upload(_app(), "moved.geojson", geojson(MOVED))
    args = _map_args(at)
    text = args["script"] + args["html"]
    for name in ("调整前（当前网格）", "调整后（方案）"):
        assert name in text or json.dumps(name)[1:-1] in text, name
    assert "6 4" in args["script"]  # the old shapes dashed
    west, _s, east, _n = _fit_bounds(args["script"])
    # G1 and G2 (0–200 m) change, G3 and G4 (200–400 m) do not: the view ends well before 400 m.
    assert west < _lon(0) and _lon(200) < east < _lon(320)
    assert any("灰色虚线为调整前" in c.value for c in at.caption)
    # The current grids, by contrast, are shown whole.
    at.radio(key="planner.source").set_value("current").run()
    _w, _s, east_all, _n = _fit_bounds(_map_args(at)["script"])
    assert east_all > _lon(400)


def test_identical_upload_offers_nothing_to_adopt(store_path: Path) -> None:
    at = _upload(_app(), "same.geojson", geojson(CURRENT))
    assert any("方案与当前第 1 代网格相同" in i.value for i in at.info)
    assert not at.get("form")


def test_a_later_day_schedules_the_generation_and_it_can_be_cancelled(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEGRID_NOW", "2026-11-30T10:00:00")
    before = snapshot(store_path)
    at = _upload(_app(), "moved.geojson", geojson(MOVED))
    assert at.date_input(key="planner.valid_from").value == dt.date(2026, 11, 30)  # today: at once
    at.date_input(key="planner.valid_from").set_value(dt.date(2026, 12, 15))
    at.checkbox(key="planner.sure").check()
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    assert any(
        "已安排第 2 代网格于 2026-12-15 生效；在此之前仍使用第 1 代网格" in s.value for s in at.success
    )
    after = snapshot(store_path)
    assert after["components"] == before["components"] and after["cases"] == before["cases"]
    gens = at.dataframe[-1].value
    assert gens["状态"].tolist() == ["已预定", "当前"]
    # No second adoption while one is scheduled; the planner may cancel it.
    assert any("第 2 代网格已安排于 2026-12-15 生效" in i.value for i in at.info)
    assert not at.get("form")
    at.button(key="planner.cancel").click().run()
    assert not at.exception, at.exception
    assert any("已撤销预定的第 2 代网格" in s.value for s in at.success)
    assert at.dataframe[-1].value["状态"].tolist() == ["当前"]


def test_adoption_error_in_the_session_language(store_path: Path) -> None:
    at = _upload(_app(), "moved.geojson", geojson(MOVED))
    at.date_input(key="planner.valid_from").set_value(dt.date(2022, 1, 1))
    at.checkbox(key="planner.sure").check()
    at.button[0].click()
    at.run()
    shown = [e.value.replace("\\", "") for e in at.error]
    assert any("生效日期 2022-01-01 须晚于当前第 1 代网格的生效日期（2023-01-01）" in e for e in shown), shown


def test_current_grids_export_in_page(store_path: Path) -> None:
    at = _app()
    at.run()
    assert not at.get("download_button")
    at.selectbox(key="planner.export_fmt").set_value("gpkg").run()
    at.button(key="planner.export_prepare").click().run()
    assert not at.exception, at.exception
    assert [b.label for b in at.get("download_button")] == ["下载当前网格（GeoPackage）"]


def test_generations_listed(store_path: Path) -> None:
    at = _app(lang="en")
    at.run()
    gens = at.dataframe[-1].value
    assert list(gens.columns) == [
        "Generation",
        "Valid from",
        "Valid to",
        "Status",
        "Grids",
        "Note",
        "Created",
    ]
    assert gens[["Generation", "Status", "Grids"]].values.tolist() == [[1, "Current", 7]]


def test_english_problem_and_impact_tables_have_no_chinese_words(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AppTest formats a select box's value again between runs, outside the session, where the
    # language falls back to the default: let that default be the session's for this test.
    monkeypatch.setattr("pages._i18n.DEFAULT_LANGUAGE", "en")
    gap = dict(MOVED)
    gap[G1] = box(0, 90)
    at = _upload(_app(lang="en"), "gap.geojson", geojson(gap))
    assert any("1 topology problem(s) (Gap 1)" in e.value for e in at.error)
    problems = at.dataframe[0].value
    assert list(problems.columns) == ["Problem", "Level", "Grids", "Measure", "Description"]
    assert not any(CJK.search(str(v)) for v in problems.to_numpy().ravel())
    for frame in at.dataframe[1:]:
        table = frame.value
        assert not any(CJK.search(str(c)) for c in table.columns), list(table.columns)
    labels = [m.label for m in at.metric] + [s.value for s in at.subheader] + [m.value for m in at.markdown]
    assert labels and not any(CJK.search(v) for v in labels), labels


def test_chinese_problem_and_impact_tables_are_headed_in_chinese(store_path: Path) -> None:
    gap = dict(MOVED)
    gap[G1] = box(0, 90)
    at = _upload(_app(), "gap.geojson", geojson(gap))
    for frame in at.dataframe:
        assert all(CJK.search(str(c)) for c in frame.value.columns), list(frame.value.columns)


def test_every_text_of_the_page_is_in_both_languages() -> None:
    from pages._i18n import STRINGS

    source = Path(PAGE).read_text(encoding="utf-8")
    assert "_t(" not in source  # no inline pairs
    keys = set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", source))
    assert keys, "the page names no text keys"
    missing = sorted(k for k in keys if k not in STRINGS)
    assert not missing, missing
    for key, (zh, en) in STRINGS.items():
        if key.startswith("planner."):
            assert (zh == "" and en == "") or (zh and en), key
    # Every problem kind and adoption error code has its sentence.
    from spatial import topology

    kinds = {
        c.kind for c in vars(topology).values() if isinstance(c, type) and issubclass(c, topology.Problem)
    }
    assert all(f"planner.kind.{k}" in STRINGS and f"planner.say.{k}" in STRINGS for k in kinds)
    codes = set(re.findall(r'code="(\w+)"', (Path(PAGE).parents[1] / "layers" / "planner.py").read_text()))
    assert codes and all(f"planner.error.{c}" in STRINGS for c in codes), codes
