"""The surveyor page through Streamlit's AppTest, on the two-grid store of the layer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import settings
from layers import survey
from layers.store import open_store
from tests.layers.test_survey import C1, C2, CX, CY, GRID_B, make_store

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "surveyor.py")


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_store(tmp_path / "page.sqlite")
    monkeypatch.setenv("ONEGRID_STORE", str(path))
    monkeypatch.setattr(settings, "TILES", "none")
    return path


def _app() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["user"] = "测绘员 李四"
    return at


def _load(at: AppTest, code: str) -> AppTest:
    at.run()
    at.text_input(key="survey.query").set_value(code).run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    matches = [b for b in at.button if b.label == label]
    assert matches, [b.label for b in at.button]
    return matches[0]


def test_page_runs_without_a_component(store_path: Path) -> None:
    at = _app()
    at.run()
    assert not at.exception
    assert at.title[0].value == "部件普查"


def test_page_in_english(store_path: Path) -> None:
    at = _app()
    at.session_state["lang"] = "en"
    _load(at, C1)
    assert at.title[0].value == "Component survey"
    assert any(s.label == "Coordinate system" for s in at.selectbox)


def test_typed_move_persists(store_path: Path) -> None:
    at = _load(_app(), C1)
    assert any(m.label == "版本" and m.value == "1" for m in at.metric)
    at.selectbox(key="survey.crs").set_value("EPSG:4549")
    at.number_input(key=f"survey.x.{C1}").set_value(CX + 700.0)
    at.number_input(key=f"survey.y.{C1}").set_value(CY + 300.0)
    at.text_input(key="survey.reason").set_value("<b>复测</b>")
    _button(at, "移动到此坐标").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("已移动" in s.value for s in at.success)
    with open_store(store_path) as store:
        rec = survey.get_component(store, C1)
        assert (rec["x"], rec["y"], rec["grid_code"], rec["version"]) == (CX + 700.0, CY + 300.0, GRID_B, 2)
        h = survey.history(store, C1).iloc[-1]
        assert (h["actor"], h["action"], h["reason"]) == ("测绘员 李四", "move", "<b>复测</b>")
    assert any(m.label == "版本" and m.value == "2" for m in at.metric)


def test_stale_edit_in_the_ui_is_refused_with_the_current_version(store_path: Path) -> None:
    at = _load(_app(), C2)
    with open_store(store_path) as store:  # someone else, meanwhile
        survey.set_state(store, C2, state="破损", expected_version=1, actor="他人")
    at.selectbox(key="survey.crs").set_value("EPSG:4549")
    at.number_input(key=f"survey.x.{C2}").set_value(CX + 10.0)
    at.number_input(key=f"survey.y.{C2}").set_value(CY + 10.0)
    _button(at, "移动到此坐标").click().run()
    assert not at.exception
    assert any("无法完成" in e.value and "now version 2" in e.value for e in at.error)
    assert any("版本 2" in i.value for i in at.info)
    with open_store(store_path) as store:
        rec = survey.get_component(store, C2)
        assert (rec["x"], rec["version"]) == (CX + 500.0, 2)


def test_outside_district_shown_not_raised(store_path: Path) -> None:
    at = _load(_app(), C1)
    at.number_input(key=f"survey.x.{C1}").set_value(121.9)
    _button(at, "移动到此坐标").click().run()
    assert not at.exception
    assert any("outside every grid" in e.value for e in at.error)


def test_state_change_and_undo(store_path: Path) -> None:
    at = _load(_app(), C1)
    at.selectbox(key=f"survey.state.{C1}").set_value("丢失")
    _button(at, "更改状态").click().run()
    assert not at.exception
    assert any("状态已改为 丢失" in s.value for s in at.success)
    _button(at, "撤销（作为新变更）").click().run()
    assert not at.exception, at.exception
    with open_store(store_path) as store:
        assert survey.get_component(store, C1)["state"] == "完好"
        assert survey.history(store, C1)["action"].tolist() == ["state", "undo"]


def test_batch_upload_preview_and_confirm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.layers.test_survey import _bad_batch

    path = make_store(tmp_path / "batch.sqlite", extra=20)
    monkeypatch.setenv("ONEGRID_STORE", str(path))
    monkeypatch.setattr(settings, "TILES", "none")
    at = _app()
    at.run()
    at.file_uploader(key="survey.upload").upload("外业.csv", _bad_batch(), "text/csv")
    at.run()
    _button(at, "预览").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["行数"], metrics["接受"], metrics["拒绝"]) == ("14", "3", "11")
    rejected = at.dataframe[-1].value
    assert "未知的部件编码" in rejected["原因"].tolist()
    assert "<script>alert(1)</script>" in rejected["code"].tolist()  # shown as text, not markup
    _button(at, "确认导入").click().run()
    assert not at.exception, at.exception
    assert any("已导入" in s.value for s in at.success)
    with open_store(path) as store:
        assert survey.get_component(store, C1)["version"] == 2
        assert store.conn.execute("SELECT COUNT(*) FROM import_rejects").fetchone()[0] == 11


def test_oversized_upload_is_refused(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MAX_UPLOAD_MB", 1)
    at = _app()
    at.run()
    at.file_uploader(key="survey.upload").upload("big.csv", b"x" * (10 * 1024 * 1024), "text/csv")
    at.run()
    _button(at, "预览").click().run()
    assert not at.exception
    # Messages are escaped Markdown (user text shown as text): compare what is displayed.
    assert any("the limit is 1.0 MB" in e.value.replace("\\", "") for e in at.error)


def test_in_the_app_frame_the_map_is_local_and_names_are_escaped(app_env: Path) -> None:
    import json

    from maps.offline import remote_urls

    root = Path(PAGE).parents[1]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=90)
    at.session_state["role"] = "surveyor"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    at.text_input(key="survey.query").set_value("3205060201000000").run()
    assert not at.exception, at.exception
    maps = [
        json.loads(el.proto.json_args)
        for el in at.get("component_instance")
        if el.proto.component_name == "streamlit_folium.st_folium"
    ]
    assert len(maps) == 1
    args = maps[0]
    for url in [*args["js_links"], *args["css_links"]]:
        assert url.startswith("/app/static/vendor/"), url
    text = args["script"] + args["header"] + args["html"]
    assert remote_urls(text) == []
    assert "<i>x</i>" not in text and "&lt;i&gt;x&lt;/i&gt;" in text.replace("\\u0026", "&")
