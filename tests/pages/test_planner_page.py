"""The grid planning page through Streamlit's AppTest, on the hand-made store of the layer tests."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import settings
from tests.layers.test_planner import CURRENT, G1, MOVED, box, grid_frame, make_store, snapshot

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
    assert [b.label for b in at.get("download_button")] == ["下载问题 GeoJSON", "下载问题 CSV"]


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
    assert any("1 个拓扑问题" in e.value for e in at.error)
    table = at.dataframe[0].value
    assert table["kind"].tolist() == ["gap"]
    assert G1 in table["codes"].iloc[0]


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
    # The size rule of every upload (layers.tabular); messages are escaped Markdown.
    assert any("moved.geojson is 0.0 MB" in e.value.replace("\\", "") for e in at.error)
    assert any("the limit is 0.0 MB (0 bytes)" in e.value.replace("\\", "") for e in at.error)
