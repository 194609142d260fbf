"""The surveyor page through Streamlit's AppTest, on the two-grid store of the layer tests."""

from __future__ import annotations

import re
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
    assert any(b.label == "Move here" for b in at.button)


def test_typed_move_persists(store_path: Path) -> None:
    at = _load(_app(), C1)
    assert any(m.label == "版本" and m.value == "1" for m in at.metric)
    at.selectbox(key="survey.crs").set_value("EPSG:4549").run()
    at.number_input(key=f"survey.x.{C1}.EPSG:4549.1").set_value(CX + 700.0)
    at.number_input(key=f"survey.y.{C1}.EPSG:4549.1").set_value(CY + 300.0)
    at.text_input(key="survey.reason").set_value("<b>复测</b>")
    _button(at, "移动到此坐标").click().run()
    assert not at.exception, at.exception
    # 1,237 m and into grid B: asked first, nothing moved yet.
    assert any("1236.9 米" in w.value and GRID_B in w.value for w in at.warning), [
        w.value for w in at.warning
    ]
    with open_store(store_path) as store:
        assert survey.get_component(store, C1)["version"] == 1
    _button(at, "确认移动").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("已移动 1236.9 米" in s.value and GRID_B in s.value for s in at.success)
    with open_store(store_path) as store:
        rec = survey.get_component(store, C1)
        assert (rec["x"], rec["y"], rec["grid_code"], rec["version"]) == (CX + 700.0, CY + 300.0, GRID_B, 2)
        h = survey.history(store, C1).iloc[-1]
        assert (h["actor"], h["action"], h["reason"]) == ("测绘员 李四", "move", "<b>复测</b>")
    assert any(m.label == "版本" and m.value == "2" for m in at.metric)


def test_the_fields_follow_the_chosen_system(store_path: Path) -> None:
    """Choosing GCJ-02 rewrites the fields in GCJ-02: "Move here" unchanged moves nothing (was 466 m)."""
    at = _load(_app(), C1)
    wgs = at.number_input(key=f"survey.x.{C1}.EPSG:4326.1").value
    at.selectbox(key="survey.crs").set_value("GCJ02").run()
    with open_store(store_path) as store:
        rec = survey.get_component(store, C1)
        gx, gy = survey.position_in(rec["x"], rec["y"], crs="GCJ02")
    shown = at.number_input(key=f"survey.x.{C1}.GCJ02.1").value
    assert shown == pytest.approx(gx, abs=1e-7) and abs(shown - wgs) > 1e-3
    assert at.number_input(key=f"survey.y.{C1}.GCJ02.1").value == pytest.approx(gy, abs=1e-7)
    _button(at, "移动到此坐标").click().run()
    assert not at.exception
    assert any("已在该位置" in e.value for e in at.error), [e.value for e in at.error]
    with open_store(store_path) as store:
        assert survey.get_component(store, C1)["version"] == 1


def test_a_cross_grid_move_can_be_cancelled(store_path: Path) -> None:
    at = _load(_app(), C1)
    at.selectbox(key="survey.crs").set_value("EPSG:4549").run()
    at.number_input(key=f"survey.x.{C1}.EPSG:4549.1").set_value(CX + 5.0)
    at.number_input(key=f"survey.y.{C1}.EPSG:4549.1").set_value(float(CY))
    _button(at, "移动到此坐标").click().run()
    assert any("片区二" in w.value for w in at.warning)
    _button(at, "取消").click().run()
    assert not at.warning
    with open_store(store_path) as store:
        assert survey.get_component(store, C1)["version"] == 1


def test_stale_edit_in_the_ui_is_refused_with_the_current_version(store_path: Path) -> None:
    at = _load(_app(), C2)
    with open_store(store_path) as store:  # someone else, meanwhile
        survey.set_state(store, C2, state="破损", expected_version=1, actor="他人")
    at.selectbox(key="survey.crs").set_value("EPSG:4549").run()
    # The fields show the record as it is now (version 2); the surveyor's edit is still of version 1.
    at.number_input(key=f"survey.x.{C2}.EPSG:4549.2").set_value(CX + 10.0)
    at.number_input(key=f"survey.y.{C2}.EPSG:4549.2").set_value(CY + 10.0)
    _button(at, "移动到此坐标").click().run()
    assert not at.exception
    assert any("无法完成" in e.value and "当前为版本 2" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    assert any("版本 2" in i.value for i in at.info)
    with open_store(store_path) as store:
        rec = survey.get_component(store, C2)
        assert (rec["x"], rec["version"]) == (CX + 500.0, 2)


def test_outside_district_shown_not_raised(store_path: Path) -> None:
    at = _load(_app(), C1)
    at.number_input(key=f"survey.x.{C1}.EPSG:4326.1").set_value(121.9)
    _button(at, "移动到此坐标").click().run()
    assert not at.exception
    assert any("不在本区任何网格内" in e.value for e in at.error), [e.value for e in at.error]


def test_state_change_and_undo(store_path: Path) -> None:
    at = _load(_app(), C1)
    at.selectbox(key=f"survey.state.{C1}.1").set_value("丢失")
    _button(at, "更改状态").click().run()
    assert not at.exception
    assert any("状态已改为 丢失" in s.value for s in at.success)
    at.button(key="survey.undo").click().run()
    assert not at.exception, at.exception
    with open_store(store_path) as store:
        assert survey.get_component(store, C1)["state"] == "完好"
        assert survey.history(store, C1)["action"].tolist() == ["state", "undo"]
    # The selector shows the state stored now, not the one chosen before the undo.
    assert at.selectbox(key=f"survey.state.{C1}.3").value == "完好"
    assert any(m.label == "状态" and m.value == "完好" for m in at.metric)


def test_undo_twice_steps_back(store_path: Path) -> None:
    at = _load(_app(), C1)
    at.selectbox(key=f"survey.state.{C1}.1").set_value("破损")
    _button(at, "更改状态").click().run()
    at.selectbox(key=f"survey.state.{C1}.2").set_value("丢失")
    _button(at, "更改状态").click().run()
    assert at.button(key="survey.undo").label.startswith("撤销 #2")
    at.button(key="survey.undo").click().run()
    assert not at.error, [e.value for e in at.error]
    # Only the next change to undo is offered: the first one, not the undo just made.
    assert at.button(key="survey.undo").label.startswith("撤销 #1")
    at.button(key="survey.undo").click().run()
    assert not at.error, [e.value for e in at.error]
    assert not [b for b in at.button if b.key == "survey.undo"]
    assert any("没有可撤销的变更" in c.value for c in at.caption)
    with open_store(store_path) as store:
        assert survey.get_component(store, C1)["state"] == "完好"
    history = at.dataframe[-1].value
    assert list(history.columns) == [
        "编号",
        "版本",
        "时间",
        "操作人",
        "操作",
        "状态变化",
        "网格变化",
        "移动距离（米）",
        "原因",
    ]
    assert history["状态变化"].tolist() == ["破损 → 完好", "丢失 → 破损", "破损 → 丢失", "完好 → 破损"]
    assert not any("{" in str(v) for v in history.to_numpy().ravel())  # no raw JSON


def test_workspace_names_class_grid_bodies_and_search_by_name(store_path: Path) -> None:
    at = _app()
    at.run()
    at.text_input(key="survey.q_class").set_value("井盖").run()
    at.text_input(key="survey.q_grid").set_value("片区二").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["部件编码"].tolist() == [C2]
    assert table["类别"].tolist() == ["上水井盖"] and table["网格"].tolist() == ["片区二"]
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["类别"], metrics["网格"], metrics["状态"]) == ("上水井盖", "片区二", "完好")
    captions = " ".join(c.value for c in at.caption)
    assert "主管部门" in captions and "普查日期：2025-01-01" in captions and "数据来源：实测" in captions


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
    # The session holds the batch id; the preview is in the store.
    assert isinstance(at.session_state["survey.preview"], int)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["行数"], metrics["接受"], metrics["拒绝"]) == ("14", "4", "10")
    rejected = at.dataframe[-1].value
    assert list(rejected.columns) == [
        "行",
        "部件编码",
        "拒绝原因",
        "x / 经度（原文）",
        "y / 纬度（原文）",
        "备注",
    ]
    assert "未知的部件编码" in rejected["拒绝原因"].tolist()
    assert "<script>alert(1)</script>" in rejected["部件编码"].tolist()  # shown as text, not markup
    _button(at, "确认导入").click().run()
    assert not at.exception, at.exception
    assert any("已导入" in s.value for s in at.success)
    with open_store(path) as store:
        assert survey.get_component(store, C1)["version"] == 2
        assert store.conn.execute("SELECT COUNT(*) FROM import_rejects").fetchone()[0] == 10
    # The same file again: told it was applied, and refused unless asked.
    at.file_uploader(key="survey.upload").upload("外业.csv", _bad_batch(), "text/csv")
    at.run()
    _button(at, "预览").click().run()
    assert any("已于" in w.value and "导入过" in w.value for w in at.warning), [w.value for w in at.warning]
    _button(at, "确认导入").click().run()
    assert any("确实要再次导入" in e.value for e in at.error), [e.value for e in at.error]


def test_the_page_in_english_has_no_chinese_but_official_names(store_path: Path) -> None:
    with open_store(store_path) as store:
        survey.set_state(store, C1, state="丢失", expected_version=1, actor="测绘员 李四")
    at = _app()
    at.session_state["lang"] = "en"
    _load(at, C1)
    assert not at.exception, at.exception
    official = {"上水井盖", "片区一", "实测", "井盖"}
    cjk = re.compile(r"[\u3400-\u9fff]")
    words = [at.title[0].value]
    words += [w.label for w in [*at.text_input, *at.selectbox, *at.number_input, *at.button, *at.metric]]
    words += [str(m.value) for m in at.metric if m.label != "Grid" and m.label != "Class"]
    words += [s.value for s in at.subheader]
    for frame in at.dataframe:
        words += [str(c) for c in frame.value.columns]
    words += [str(v) for v in at.dataframe[-1].value["State"]]
    assert {m.label: m.value for m in at.metric}["State"] == "Missing"
    left = [w for w in words if cjk.search(w) and not any(o in w for o in official)]
    assert left == [], left
    assert "(official Chinese name)" in " ".join(c.value for c in at.caption)


def _show_survey_error(lang: str) -> None:
    import streamlit as st

    from layers.survey._base import check_code
    from pages._common import show_error
    from spatial.errors import OneGridError

    st.session_state["lang"] = lang
    try:
        check_code("12ab")
    except OneGridError as exc:
        show_error(exc)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "Could not do that: Component code 12ab is not 16 digits"),
        ("zh", "无法完成：部件编码 12ab 不是 16 位数字"),
    ],
)
def test_survey_errors_are_shown_in_the_session_language(lang: str, words: str) -> None:
    at = AppTest.from_function(_show_survey_error, args=(lang,))
    at.run()
    assert not at.exception, at.exception
    assert any(e.value.replace("\\", "").startswith(words) for e in at.error), [e.value for e in at.error]


def test_oversized_upload_is_refused(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MAX_UPLOAD_MB", 1)
    at = _app()
    at.run()
    at.file_uploader(key="survey.upload").upload("big.csv", b"x" * (10 * 1024 * 1024), "text/csv")
    at.run()
    _button(at, "预览").click().run()
    assert not at.exception
    # Messages are escaped Markdown (user text shown as text): compare what is displayed.
    assert any("超过上限 1.0 MB" in e.value.replace("\\", "") for e in at.error), [e.value for e in at.error]


def test_a_file_without_the_columns_is_told_in_the_session_language(store_path: Path) -> None:
    for lang, words in (("zh", "缺少列 code"), ("en", "missing column(s) code")):
        at = _app()
        at.session_state["lang"] = lang
        at.run()
        at.file_uploader(key="survey.upload").upload("a.csv", b"id,lon,lat\n1,120.6,31.25\n", "text/csv")
        at.run()
        _button(at, "预览" if lang == "zh" else "Preview").click().run()
        assert not at.exception
        assert any(words in e.value.replace("\\", "") and "id, lon, lat" in e.value for e in at.error), [
            e.value for e in at.error
        ]


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
